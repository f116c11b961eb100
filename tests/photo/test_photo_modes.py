"""Every PIL mode a user meets, through both photo commands and LoadImage: grey stays grey at its bit
depth and is denoised (never black), colour stays colour, the unmasked pixels stay the input's."""
import numpy as np
import pytest
import torch
from PIL import Image

from noisekit.cli import main
from noisekit.photo.files import encode_png16, read_photo
from noisekit.runner.standins import NODE_CLASS_MAPPINGS as S
from noisekit.runner.standins import PATHS

H, W = 24, 32
Y, X = np.mgrid[0:H, 0:W]
CLEAN = 0.5 + 0.3 * np.sin(X / 5) * np.cos(Y / 7)  # smooth, in [0.2, 0.8]
NOISY = np.clip(CLEAN + np.random.default_rng(0).normal(0, 0.06, CLEAN.shape), 0, 1)


def make(mode: str, path):
    """A noisy picture of CLEAN in ``mode``; returns (its grey-ness, bits, output mode)."""
    g8 = (NOISY * 255).round().astype(np.uint8)
    rgb = np.stack([g8, np.roll(g8, 4, 1), g8[::-1]], -1)
    if mode == "RGB16":
        path.write_bytes(encode_png16(np.stack([(NOISY * 65535).round().astype(np.uint16)] * 3, -1)))
    elif mode == "I;16":
        Image.fromarray((NOISY * 65535).round().astype(np.uint16)).save(path)
    elif mode in ("1", "L"):
        Image.fromarray(g8).convert(mode).save(path)
    elif mode == "LA":
        Image.fromarray(np.dstack([g8, np.full_like(g8, 200)]), "LA").save(path)
    elif mode == "RGBA":
        Image.fromarray(np.dstack([rgb, np.full_like(g8, 200)]), "RGBA").save(path)
    else:  # RGB, P, CMYK
        Image.fromarray(rgb).convert(mode).save(path)


MODES = {  # mode -> (file extension, output mode)
    "1": (".png", "L"), "L": (".png", "L"), "LA": (".png", "LA"), "I;16": (".png", "I;16"), "P": (".png", "RGB"),
    "RGB": (".png", "RGB"), "RGBA": (".png", "RGBA"), "CMYK": (".jpg", "RGB"), "RGB16": (".png", "RGB")}


def grey_error(path) -> float:
    """RMS error against CLEAN of the first channel (the grey value of a grey picture)."""
    image, _ = read_photo(str(path))
    return float(np.sqrt(((image[0, ..., 0].numpy() - CLEAN) ** 2).mean()))


@pytest.mark.parametrize("mode", list(MODES))
def test_denoise_every_mode(tmp_path, mode):
    ext, out_mode = MODES[mode]
    src, dst = tmp_path / f"in{ext}", tmp_path / "out.png"
    make(mode, src)
    assert main(["denoise", str(src), str(dst)]) == 0  # sigma estimated: the grey case gave NaN -> black
    out = Image.open(dst)
    assert out.mode == out_mode and out.size == (W, H)
    values = np.asarray(out).astype(np.float64)
    assert values.std() > 0 and values.max() > 0
    if mode in ("L", "I;16", "LA", "RGB16"):  # the noise of these is known: the result is closer to CLEAN
        assert grey_error(dst) < 0.8 * grey_error(src)


@pytest.mark.parametrize("mode", list(MODES))
def test_inpaint_every_mode(tmp_path, mode):
    ext, out_mode = MODES[mode]
    src, dst = tmp_path / f"in{ext}", tmp_path / "out.png"
    make(mode, src)
    mask = np.zeros((H, W), np.uint8)
    mask[8:16, 10:20] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    assert main(["inpaint", str(src), str(tmp_path / "m.png"), str(dst), "--steps", "3"]) == 0
    out = Image.open(dst)
    assert out.mode == out_mode and out.size == (W, H)
    before, after = read_photo(str(src))[1].stored, read_photo(str(dst))[1].stored
    keep = mask == 0
    if ext == ".png" and mode not in ("1", "P"):  # stored exactly as read: bit-identical outside the mask
        assert np.array_equal(after[keep], before[keep])
    assert np.asarray(out).astype(np.float64)[~keep].std() > 0  # the hole is filled, not black


@pytest.mark.parametrize("mode", list(MODES))
def test_load_image_every_mode(tmp_path, monkeypatch, mode):
    ext, _ = MODES[mode]
    monkeypatch.setitem(PATHS, "input", str(tmp_path))
    make(mode, tmp_path / f"in{ext}")
    image, mask = S["LoadImage"]().load_image(f"in{ext}")
    assert image.shape == (1, H, W, 3) and torch.isfinite(image).all() and 0 <= image.min() and image.max() <= 1
    if mode in ("L", "I;16", "LA", "RGB16", "1"):  # grey: three equal channels at the picture's values
        assert torch.equal(image[..., 0], image[..., 1]) and torch.equal(image[..., 0], image[..., 2])
    if mode in ("L", "I;16", "LA", "RGB16"):  # 16-bit grey: ComfyUI's v / 255 then 8 bits, off by up to 2/255
        assert float((image[0, ..., 0] - torch.from_numpy(NOISY).float()).abs().max()) <= 2.5 / 255
    assert mask.shape == ((1, H, W) if mode in ("LA", "RGBA") else (1, 64, 64))


def test_sixteen_bit_grey_with_alpha_stays_sixteen_bit_grey_with_its_alpha(tmp_path):
    """Pillow decodes a 16-bit grey + alpha PNG to 8-bit RGBA; the photo commands read all 16 bits and write
    the same kind of file: denoised grey, the alpha bit for bit (and the unmasked pixels, inpainting)."""
    from noisekit.photo.files import GREY_ALPHA, png16_colour_type

    grey = (NOISY * 65535).round().astype(np.uint16)
    alpha = (30000 + 997 * X + 13 * Y).astype(np.uint16)  # every value's low byte matters
    src = tmp_path / "in.png"
    src.write_bytes(encode_png16(np.dstack([grey, alpha])))
    image, photo = read_photo(str(src))
    assert photo.grey and photo.bits == 16
    assert np.array_equal(photo.stored, grey) and np.array_equal(photo.alpha, alpha)
    assert main(["denoise", str(src), str(tmp_path / "out.png"), "--sigma", str(0.06 * 255)]) == 0
    _, out = read_photo(str(tmp_path / "out.png"))
    assert png16_colour_type(str(tmp_path / "out.png")) == GREY_ALPHA
    assert out.grey and out.bits == 16 and np.array_equal(out.alpha, alpha)
    assert grey_error(tmp_path / "out.png") < 0.8 * grey_error(src)
    mask = np.zeros((H, W), np.uint8)
    mask[8:16, 10:20] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    assert main(["inpaint", str(src), str(tmp_path / "m.png"), str(tmp_path / "filled.png"), "--steps", "3"]) == 0
    _, filled = read_photo(str(tmp_path / "filled.png"))
    assert np.array_equal(filled.stored[mask == 0], grey[mask == 0]) and np.array_equal(filled.alpha, alpha)


@pytest.mark.parametrize("ext", [".png", ".gif"])
def test_an_animation_is_refused_not_cut_to_its_first_frame(tmp_path, capsys, ext):
    frames = [Image.fromarray((NOISY * 255 * k / 3).astype(np.uint8)) for k in (1, 2, 3)]
    src = tmp_path / f"anim{ext}"
    frames[0].save(src, save_all=True, append_images=frames[1:])
    assert main(["denoise", str(src), str(tmp_path / "out.png")]) == 2
    assert "an animation of 3 frames" in capsys.readouterr().err and not (tmp_path / "out.png").exists()
