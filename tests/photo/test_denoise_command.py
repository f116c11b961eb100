"""``noisekit denoise`` says what it did: the size, the noise level (estimated or given, with a warning
when an estimate is implausible), where it wrote the result and how long it took."""
import re

import numpy as np
import pytest
from PIL import Image

from noisekit.cli import main
from noisekit.photo.noise_level import NOISE_FLOOR

REPORT = re.compile(r"^(?P<path>.+): (?P<w>\d+)x(?P<h>\d+) \((?P<mp>[\d.]+) MP\), noise level (?P<sigma>[\d.]+)/255 "
                    r"\((?P<how>estimated|given)\)(, strength (?P<strength>[\d.]+))?$")
WROTE = re.compile(r"^wrote (?P<path>.+) in (?P<s>[\d.]+) s \((?P<spmp>[\d.]+) s/MP\)$")


def gradient(h=96, w=128):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([60 + 120 * x / w, 50 + 100 * y / h, 140 - 60 * x / w], -1)


def write(path, pixels):
    Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8)).save(path)
    return str(path)


def run(capsys, *args):
    code = main(["denoise", *args])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_prints_size_estimated_noise_level_output_and_time(tmp_path, capsys, tiny_model):
    """Gaussian noise of std 20/255 on a smooth photo: the printed estimate is 20 within 1."""
    noisy = write(tmp_path / "noisy.png", gradient() + np.random.default_rng(0).normal(0, 20, (96, 128, 3)))
    code, lines, err = run(capsys, noisy, str(tmp_path / "out.png"), "--model", tiny_model)
    assert code == 0 and "warning" not in err
    first, wrote = REPORT.match(lines[0]), WROTE.match(lines[1])
    assert first and wrote and len(lines) == 2
    assert first["path"] == noisy and (first["w"], first["h"], first["how"]) == ("128", "96", "estimated")
    assert float(first["mp"]) == pytest.approx(128 * 96 / 1e6, abs=0.005)
    assert abs(float(first["sigma"]) - 20) < 1
    assert wrote["path"] == str(tmp_path / "out.png") and (tmp_path / "out.png").exists()
    assert abs(float(wrote["spmp"]) * 128 * 96 / 1e6 - float(wrote["s"])) <= 0.05 + 1e-3  # the time is to 0.1 s


def test_a_given_noise_level_is_printed_as_given(tmp_path, capsys, tiny_model):
    noisy = write(tmp_path / "noisy.png", gradient())
    code, lines, err = run(capsys, noisy, str(tmp_path / "out.png"), "--model", tiny_model, "--sigma", "12.5")
    first = REPORT.match(lines[0])
    assert code == 0 and first["sigma"] == "12.5" and first["how"] == "given" and "warning" not in err


def test_strength_is_printed_and_removes_the_level_times_it(tmp_path, capsys, tiny_model):
    noisy = write(tmp_path / "noisy.png", gradient() + np.random.default_rng(2).normal(0, 10, (96, 128, 3)))
    code, lines, _ = run(capsys, noisy, str(tmp_path / "a.png"), "--model", tiny_model, "--sigma", "10",
                         "--strength", "2")
    assert code == 0 and REPORT.match(lines[0])["strength"] == "2" and REPORT.match(lines[0])["sigma"] == "10.0"
    run(capsys, noisy, str(tmp_path / "b.png"), "--model", tiny_model, "--sigma", "20")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), np.asarray(Image.open(tmp_path / "b.png")))
    with pytest.raises(SystemExit) as exit_:
        run(capsys, noisy, str(tmp_path / "c.png"), "--model", tiny_model, "--strength", "0")
    assert exit_.value.code == 2 and "argument --strength: must be in [0.25, 4]" in capsys.readouterr().err


@pytest.mark.parametrize("pixels,words", [
    (gradient(), "nearly noise-free"),  # no noise at all: the estimate is below 1/255
    (128 + np.random.default_rng(1).normal(0, 100, (96, 128, 3)), "above what the cameras"),  # reads 99/255
])
def test_an_implausible_estimate_is_warned_about(tmp_path, capsys, tiny_model, pixels, words):
    noisy = write(tmp_path / "noisy.png", pixels)
    code, lines, err = run(capsys, noisy, str(tmp_path / "out.png"), "--model", tiny_model)
    assert code == 0 and REPORT.match(lines[0])
    assert "warning: the" in err and words in err and ("--sigma" if "noise-free" in words else "--strength") in err


def test_a_noise_free_photo_is_denoised_at_the_floor(tmp_path, capsys, tiny_model):
    flat = write(tmp_path / "flat.png", np.full((96, 128, 3), 128.0))
    code, lines, err = run(capsys, flat, str(tmp_path / "out.png"), "--model", tiny_model)
    first = REPORT.match(lines[0])
    assert code == 0 and (first["sigma"], first["how"]) == (f"{NOISE_FLOOR * 255:.1f}", "estimated")
    assert "nearly noise-free" in err


def test_a_photo_beyond_the_memory_budget_is_refused_before_it_is_decoded(tmp_path, capsys, monkeypatch):
    """The issue's case: a 12000 x 12000 photo peaks at 11.9 GB, so under the 11.8 GB budget of a 24 GB machine
    it is refused (it was admitted at 48 bytes a pixel), from its header alone: the pixels here are garbage."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 12000, 12000, 8, 2, 0, 0, 0)
    path = tmp_path / "huge.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"x") + chunk(b"IEND", b""))
    monkeypatch.setenv("NOISEKIT_MEMORY_BUDGET", "11.8G")
    assert main(["denoise", str(path), str(tmp_path / "out.png")]) == 2
    assert "would need about 12.1 GB" in capsys.readouterr().err and not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("node,inputs", [("NoisekitDenoisePhoto", {}), ("NoisekitInpaintPhoto", {"mask": None})])
def test_photo_nodes_refuse_an_image_beyond_the_memory_budget(monkeypatch, node, inputs):
    """An IMAGE already in memory (LoadImage admits 32 bytes a pixel) is checked again for the work."""
    import torch

    from noisekit.models.analytic import GaussianDenoiser
    from noisekit.nodes import NODE_CLASS_MAPPINGS

    monkeypatch.setenv("NOISEKIT_MEMORY_BUDGET", "10M")  # 400 x 400 at 90 bytes a pixel: 14.4 MB
    image = torch.rand(1, 400, 400, 3)
    if "mask" in inputs:
        inputs = {"mask": torch.ones(1, 400, 400)}
    cls = NODE_CLASS_MAPPINGS[node]
    widgets = {name: opts.get("default", kind[0] if isinstance(kind, list) else None)
               for name, (kind, opts, *_) in cls.INPUT_TYPES()["required"].items() if isinstance(opts, dict)}
    with pytest.raises(ValueError, match=r"would need about 13.7 MB of memory, more than the budget"):
        getattr(cls(), cls.FUNCTION)(**{**widgets, "image": image, "model": GaussianDenoiser(0.0, 0.5), **inputs})
