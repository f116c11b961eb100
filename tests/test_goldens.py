"""The pictures pinned: ``noisekit denoise`` / ``noisekit inpaint`` on two small photos with both bundled models,
against goldens in tests/goldens/ (``NOISEKIT_UPDATE_GOLDENS=1`` records them anew), and each photo result against
the clean photo (a PSNR floor). The example graphs' goldens are beside them (example_workflows/NAME.golden/),
run as a suite by tests/runner/test_suite.py.

The work runs in float32 (bf16 autocast off), so the goldens hold on any CPU; the tolerance admits the last-bit
differences of another CPU's kernels (a pixel rounding the other way) and nothing a change of method would make.
"""
import json
import os

import numpy as np
import pytest
import torch

from noisekit.cli import main
from noisekit.exits import EXIT_OK
from noisekit.runner import golden

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDENS = os.path.join(ROOT, "tests", "goldens")
PHOTOS = os.path.join(GOLDENS, "inputs")
UPDATE = os.environ.get("NOISEKIT_UPDATE_GOLDENS") == "1"
TOLERANCE = {"psnr": 55.0, "ssim": 0.999, "max_abs": 2 / 255, "exact": False}

# name: (command line after the photo's paths, PSNR floor in dB against the clean photo: whole picture for
# denoise, the mask's pixels for inpaint): 0.5 dB below the recorded results. The noisy inputs are 20.35 dB (cat)
# and 20.59 dB (astronaut).
CASES = {
    "denoise_sigma25": (["--sigma", "25"], {"cat": 30.0, "astronaut": 30.8}),
    # white noise through auto's camera model (trained on camera pipelines; --sigma 25 above is the white model's)
    "denoise_auto": ([], {"cat": 29.0, "astronaut": 29.9}),
    # the default ("patch"): the photo's own texture in the hole; a texture that is not the lost one costs PSNR
    "inpaint_default_model": (["--model", "noisekit-default"], {"cat": 25.9, "astronaut": 24.0}),
    "inpaint_camera_model": (["--model", "noisekit-camera"], {"cat": 26.0, "astronaut": 23.9}),
    "inpaint_anneal": (["--method", "anneal"], {"cat": 26.2, "astronaut": 24.4}),  # the smooth mean: highest PSNR
}


@pytest.fixture(autouse=True)
def float32_everywhere(monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)


def golden_dir(name: str) -> str:
    """The goldens' folder; when recording into a new one, its sidecar gets this test's tolerance first."""
    directory = os.path.join(GOLDENS, name)
    sidecar = os.path.join(directory, golden.SIDECAR)
    if UPDATE and not os.path.exists(sidecar):
        os.makedirs(directory, exist_ok=True)
        with open(sidecar, "w") as f:
            json.dump({"tolerance": TOLERANCE, "outputs": {}}, f)
    return directory


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1 / np.mean((a - b) ** 2)))


@pytest.mark.parametrize("photo", ["cat", "astronaut"])
@pytest.mark.parametrize("case", CASES)
def test_photo_command_matches_its_goldens_and_beats_its_floor(case, photo, tmp_path):
    flags, floors = CASES[case]
    name = f"{photo}_{case}.png"
    out = str(tmp_path / name)
    if case.startswith("denoise"):
        argv = ["denoise", os.path.join(PHOTOS, f"{photo}_noisy25.png"), out]
    else:
        argv = ["inpaint", os.path.join(PHOTOS, f"{photo}.png"), os.path.join(PHOTOS, f"{photo}_mask.png"), out]
    assert main(argv + flags) == EXIT_OK
    directory, outputs = golden_dir(f"{photo}_{case}"), {name: golden.Output(name, path=out)}
    result = golden.update(directory, outputs) if UPDATE else golden.check(directory, outputs, str(tmp_path / "diff"))
    assert result["status"] in ("passed", "updated"), golden.summary(result)

    clean = golden.read_pixels(os.path.join(PHOTOS, f"{photo}.png"))
    made = golden.read_pixels(out)
    where = slice(None)
    if case.startswith("inpaint"):
        where = golden.read_pixels(os.path.join(PHOTOS, f"{photo}_mask.png"))[..., 0] > 0.5
    assert psnr(made[where], clean[where]) >= floors[photo]
