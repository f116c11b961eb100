"""Store a fine-tune compactly as a bundled model: ``python -m noisekit.training.export_delta FINE_TUNE OUT``.

Writes FINE_TUNE (a noisekit .safetensors, e.g. the fine-tune's ``--export``) as int8 per-output-channel
differences from a bundled base model (models/loader.py save_delta), half the size of fp16 weights,
and prints how far the stored weights are from the fine-tune's.
"""
from __future__ import annotations

import argparse
import os

from safetensors import safe_open

from ..models.loader import BUNDLED, NOISE_READINGS, load_model, save_delta


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(prog="python -m noisekit.training.export_delta", description=__doc__.split("\n")[0])
    ap.add_argument("fine_tune", help="the fine-tuned model (.safetensors)")
    ap.add_argument("out", nargs="?", default=os.path.join(here, "..", "models", "weights",
                                                           "noisekit-camera.safetensors"))
    ap.add_argument("--base", default="noisekit-default", choices=list(BUNDLED))
    ap.add_argument("--noise-reading", choices=NOISE_READINGS, help="what the model's sigma is for an estimated "
                    "level (default: the fine-tune's own metadata)")
    args = ap.parse_args(argv)
    model = load_model(args.fine_tune)
    with safe_open(args.fine_tune, "pt") as f:
        step = (f.metadata() or {}).get("step", "?")
    save_delta(model, args.base, args.out, step=step, noise_reading=args.noise_reading or model.noise_reading)
    stored = load_model(args.out).net.state_dict()
    worst = max(float((stored[k] - v).abs().max()) for k, v in model.net.state_dict().items())
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 2**20:.2f} MiB; step {step}, delta from {args.base}); "
          f"largest weight error {worst:.2e}")


if __name__ == "__main__":
    main()
