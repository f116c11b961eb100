"""Many inputs: items per second of ``noisekit run GRAPH --over`` against a shell loop of single runs.

``python -m noisekit.bench batch [--inputs 24] [--size 96] [--threads 1]`` makes that many noisy crops,
then times, in one run, the same denoise example graph over them: a shell loop of ``noisekit run``
calls (one process per photo: imports and model load every time), ``--over`` with 1 and 2 local
workers, and ``--over --ray`` on a Ray instance with 2 CPUs started here beforehand (as an existing
cluster is; its start-up is printed apart). Every way runs with OMP_NUM_THREADS=--threads (a worker
computes with the count of the command that started it), so each item's bytes must be the same in
every way, which is checked.
"""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

from PIL import Image

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "example_workflows")
GRAPH = os.path.join(EXAMPLES, "api", "denoise_photo.json")
NOISEKIT = [sys.executable, "-m", "noisekit.cli"]


def make_inputs(folder: str, count: int, size: int) -> list[str]:
    noisy = Image.open(os.path.join(EXAMPLES, "input", "coffee_noisy25.png")).convert("RGB")
    names = []
    for i in range(count):
        x, y = 37 * i % (noisy.width - size), 23 * i % (noisy.height - size)
        names.append(f"photo{i:03}.png")
        noisy.crop((x, y, x + size, y + size)).save(os.path.join(folder, names[-1]))
    return names


def timed(command: str) -> float:
    start = time.perf_counter()
    subprocess.run(command, shell=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def outputs(folder: str, names: list[str]) -> list[bytes]:
    saved = "noisekit_denoised_00001_.png"
    return [open(os.path.join(folder, os.path.splitext(n)[0], saved), "rb").read() for n in names]


def start_ray(cpus: int) -> tuple[str, float]:
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # listen on 127.0.0.1 only
    import ray

    start = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False)
    return ray.get_runtime_context().gcs_address, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m noisekit.bench batch", description=__doc__)
    parser.add_argument("--inputs", type=int, default=24)
    parser.add_argument("--size", type=int, default=96, help="side of each square noisy crop, in pixels")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of every process (OMP_NUM_THREADS)")
    args = parser.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # the subprocesses' and Ray's workers' count
    root = tempfile.mkdtemp(prefix="noisekit-bench-batch-")
    photos = os.path.join(root, "photos")
    os.makedirs(photos)
    names = make_inputs(photos, args.inputs, args.size)
    run = " ".join(map(shlex.quote, [*NOISEKIT, "run", GRAPH]))
    loop = (f"for f in {' '.join(names)}; do {run} --input-dir {shlex.quote(photos)} --set 1.image=$f "
            f"--output-dir {shlex.quote(root)}/loop/${{f%.png}}; done")
    ways = {"shell loop of noisekit run": loop,
            "--over, 1 local worker": f"{run} --over {photos} --workers 1 --output-dir {root}/one",
            "--over, 2 local workers": f"{run} --over {photos} --workers 2 --output-dir {root}/two"}
    seconds = {way: timed(command) for way, command in ways.items()}
    address, ray_start = start_ray(2)
    seconds["--over --ray, 2 CPUs"] = timed(f"{run} --over {photos} --ray {address} --workers 2 "
                                            f"--output-dir {root}/ray")
    reference = outputs(os.path.join(root, "loop"), names)
    same = all(outputs(os.path.join(root, d), names) == reference for d in ("one", "two", "ray"))
    loop_rate = args.inputs / seconds["shell loop of noisekit run"]
    print(f"{args.inputs} noisy {args.size}x{args.size} photos through {os.path.basename(GRAPH)} "
          f"({os.cpu_count()} cores, {args.threads} torch thread(s) per process; Ray instance started "
          f"beforehand in {ray_start:.1f} s):")
    print(f"  {'way':<28} {'seconds':>8} {'items/s':>8} {'vs loop':>8}")
    for way, s in seconds.items():
        print(f"  {way:<28} {s:8.1f} {args.inputs / s:8.2f} {args.inputs / s / loop_rate:7.1f}x")
    print(f"  Ray / 2 local workers: {seconds['--over, 2 local workers'] / seconds['--over --ray, 2 CPUs']:.2f}x "
          f"the items/s; outputs identical in every way: {'yes' if same else 'NO'}")
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
