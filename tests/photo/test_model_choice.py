"""Which bundled model ``noisekit denoise`` uses: the camera-noise model for ``--sigma auto`` (the default),
the white-noise model for a given ``--sigma N``, and ``--model`` over both; a folder follows the same rule."""
import os

import pytest
from PIL import Image

from noisekit.cli import main

INPUT = os.path.join(os.path.dirname(__file__), "..", "..", "example_workflows", "input")
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def noisy(tmp_path):
    path = tmp_path / "noisy.png"
    Image.open(os.path.join(INPUT, "coffee_noisy25.png")).convert("RGB").crop((100, 60, 132, 92)).save(path)
    return path


def denoised(noisy, tmp_path, *options) -> bytes:
    out = tmp_path / f"out{len(list(tmp_path.iterdir()))}.png"
    assert main(["denoise", str(noisy), str(out), *options]) == 0
    return out.read_bytes()


@pytest.mark.parametrize("sigma, chosen, other", [("auto", "noisekit-camera", "noisekit-default"),
                                                  ("25", "noisekit-default", "noisekit-camera")])
def test_the_noise_level_chooses_the_model(noisy, tmp_path, sigma, chosen, other):
    result = denoised(noisy, tmp_path, "--sigma", sigma)
    assert result == denoised(noisy, tmp_path, "--sigma", sigma, "--model", chosen)
    assert result != denoised(noisy, tmp_path, "--sigma", sigma, "--model", other)  # the choice shows


def test_a_folder_chooses_as_one_photo_does(noisy, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    os.replace(noisy, folder / "a.png")
    for sigma, chosen in (("auto", "noisekit-camera"), ("25", "noisekit-default")):
        out = tmp_path / f"out-{sigma}"
        assert main(["denoise", str(folder), str(out), "--sigma", sigma, "--workers", "1"]) == 0
        assert (out / "a.png").read_bytes() == denoised(folder / "a.png", tmp_path, "--sigma", sigma, "--model", chosen)


def test_an_unknown_model_name_lists_the_bundled_ones(noisy, tmp_path, capsys):
    assert main(["denoise", str(noisy), str(tmp_path / "o.png"), "--model", "noisekit-camara"]) == 2
    err = capsys.readouterr().err
    assert "noisekit-camara" in err and "noisekit-default, noisekit-camera" in err
    assert not (tmp_path / "o.png").exists()
