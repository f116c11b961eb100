"""``python -m noisekit.bench samplers|denoise|pipelines|inpaint|estimate|runner|batch|crossings``: run bench/<name>.py's ``main()``."""
import importlib
import sys

NAMES = ("samplers", "denoise", "pipelines", "inpaint", "estimate", "runner", "batch", "crossings")

if len(sys.argv) < 2 or sys.argv[1] not in NAMES:
    raise SystemExit(f"usage: python -m noisekit.bench {{{'|'.join(NAMES)}}} [options]")
importlib.import_module(f".{sys.argv[1]}", __package__).main(sys.argv[2:])
