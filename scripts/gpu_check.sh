#!/usr/bin/env bash
# The GPU check, in one command from a checkout with noisekit[test] installed: bash scripts/gpu_check.sh [cuda:N]
#   - the example graphs (noisekit test example_workflows) and the photo commands of tests/test_goldens.py, on the
#     GPU, twice: the two runs must be bit-identical, and each output within the cross-device tolerance of the
#     CPU goldens (runner/golden.py: CROSS_DEVICE_TOLERANCE) unless goldens of this device class are recorded;
#   - the throughput of `noisekit denoise` on a 12 MP photo.
# Without a CUDA GPU it says so and exits 0. Exit 1 when a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE="${1:-cuda}"
if ! python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "gpu_check: no CUDA GPU here (torch $(python -c 'import torch; print(torch.__version__)') sees none): nothing to check"
  exit 0
fi
WORK="$(mktemp -d -t noisekit-gpu-check-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
python - "$DEVICE" "$WORK" <<'PY'
import contextlib, io, json, os, sys, time
import numpy as np
import torch
from PIL import Image
from noisekit import devices
from noisekit.cli import main
from noisekit.runner import golden

device, work = sys.argv[1], sys.argv[2]
sys.path.insert(0, "tests")
from test_goldens import CASES, GOLDENS, PHOTOS  # noqa: E402  the photo commands the goldens pin

cls = devices.device_class(device)
print(f"gpu_check: {torch.cuda.get_device_name(torch.device(device))}, device class {cls}, torch {torch.__version__}")
failures = []


def quiet(argv):
    with contextlib.redirect_stdout(io.StringIO()):
        return main(argv)


hashes = [{}, {}]
for run in (0, 1):
    out = os.path.join(work, f"run{run}")
    report = os.path.join(work, f"suite{run}.json")
    code = quiet(["test", "example_workflows", "--device", device, "--output-dir", out, "--report", report])
    for case in json.load(open(report))["cases"]:
        for image in case["images"]:
            if image["output"]:
                hashes[run][f"{case['name']}/{image['name']}"] = golden.picture_hash(image["output"])
        if run == 0:
            print(f"  {case['name']}: {case['status']} ({case['seconds']:.1f} s)"
                  + "".join(f"\n      {m}" for m in case["messages"]))
            if case["status"] != "passed":
                failures.append(case["name"])
    for case, (flags, _) in CASES.items():
        for photo in ("cat", "astronaut"):
            name, path = f"{photo}_{case}", os.path.join(out, f"{photo}_{case}.png")
            if case.startswith("denoise"):
                argv = ["denoise", os.path.join(PHOTOS, f"{photo}_noisy25.png"), path]
            else:
                argv = ["inpaint", os.path.join(PHOTOS, f"{photo}.png"), os.path.join(PHOTOS, f"{photo}_mask.png"), path]
            start = time.perf_counter()
            code = quiet(argv + flags + ["--device", device])
            hashes[run][name] = golden.picture_hash(path) if code == 0 else f"exit {code}"
            if run == 0:
                verdict = golden.check(os.path.join(GOLDENS, name), {f"{name}.png": golden.Output(f"{name}.png", path)},
                                       os.path.join(work, "diff"), cls) if code == 0 else {"status": f"exit {code}"}
                entry = verdict.get("outputs", {}).get(f"{name}.png", {})
                psnr = f"{entry['psnr']:.1f}" if entry.get("psnr") else "inf"
                print(f"  {name}: {verdict['status']} (PSNR to the CPU golden {psnr} dB, max |diff| "
                      f"{entry.get('max_abs', float('nan')):.4f}, {time.perf_counter() - start:.1f} s)")
                if verdict["status"] != "passed":
                    failures.append(name)
differ = sorted(k for k in hashes[0] if hashes[0][k] != hashes[1].get(k))
print(f"run to run: {len(hashes[0]) - len(differ)} of {len(hashes[0])} outputs bit-identical"
      + (f"; differ: {', '.join(differ)}" if differ else ""))
failures += differ

# throughput: a 12 MP noisy photo (the example's, tiled to 4000 x 3000), denoised at a given sigma, warm
noisy = np.asarray(Image.open("example_workflows/input/coffee_noisy25.png").convert("RGB"))
big = np.tile(noisy, (8, 7, 1))[:3000, :4000]
photo = os.path.join(work, "photo12mp.png")
Image.fromarray(big).save(photo)
for i in range(2):
    start = time.perf_counter()
    code = quiet(["denoise", photo, os.path.join(work, f"photo12mp_out{i}.png"), "--sigma", "25", "--device", device])
    seconds = time.perf_counter() - start
print(f"noisekit denoise, 12 MP photo (4000 x 3000), --sigma 25, on {device}: {seconds:.1f} s, "
      f"{12.0 / seconds:.2f} MP/s (the second of two runs; exit {code})")
print("gpu_check: " + ("PASSED" if not failures else f"FAILED: {', '.join(failures)}"))
sys.exit(1 if failures else 0)
PY
