"""``noisekit denoise`` / ``noisekit inpaint`` photo I/O: sizes, colour modes, bit depths, no overwrite;
the photo nodes' errors."""
import numpy as np
import pytest
import torch
from PIL import Image

from noisekit.models.analytic import GaussianDenoiser
from noisekit.cli import main
from noisekit.photo.files import decode_png16, encode_png16, read_photo


RNG = np.random.default_rng(0)
SOURCES = {  # name -> (pixels, extension); 21 x 30 is no multiple of 8
    "L": (RNG.integers(0, 256, (21, 30), dtype=np.uint8), ".png"),
    "LA": (RNG.integers(0, 256, (21, 30, 2), dtype=np.uint8), ".png"),
    "RGB": (RNG.integers(0, 256, (21, 30, 3), dtype=np.uint8), ".jpg"),
    "RGBA": (RNG.integers(0, 256, (21, 30, 4), dtype=np.uint8), ".png"),
    "I;16": (RNG.integers(0, 65536, (21, 30), dtype=np.uint16), ".png"),
    "RGB16": (RNG.integers(0, 65536, (21, 30, 3), dtype=np.uint16), ".png"),
}


def write_source(path, name):
    pixels, _ = SOURCES[name]
    if name == "RGB16":
        path.write_bytes(encode_png16(pixels))
    else:
        Image.fromarray(pixels, None if name == "I;16" else name).save(path)


def test_16_bit_png_round_trip_is_exact(tmp_path):
    pixels = RNG.integers(0, 65536, (9, 11, 4), dtype=np.uint16)
    (tmp_path / "a.png").write_bytes(encode_png16(pixels))
    assert np.array_equal(decode_png16(str(tmp_path / "a.png"), 6), pixels)
    image, info = read_photo(str(tmp_path / "a.png"))
    assert info.bits == 16 and np.array_equal(info.alpha, pixels[..., 3])
    assert np.array_equal((image[0].numpy() * 65535).round().astype(np.uint16), pixels[..., :3])


@pytest.mark.parametrize("name", list(SOURCES))
def test_denoise_keeps_size_mode_depth_and_alpha(tmp_path, tiny_model, name):
    src, dst = tmp_path / f"in{SOURCES[name][1]}", str(tmp_path / f"out{SOURCES[name][1]}")
    write_source(src, name)
    args = ["denoise", str(src), dst, "--model", tiny_model, "--sigma", "20", "--tile", "128"]
    assert main(args) == 0
    out, inp = Image.open(dst), Image.open(src)
    assert out.size == inp.size and out.mode == inp.mode
    _, info_in = read_photo(str(src))
    result, info_out = read_photo(dst)
    assert info_out.bits == info_in.bits and info_out.grey == info_in.grey
    if info_in.alpha is not None:
        assert np.array_equal(info_out.alpha, info_in.alpha)
    assert main(args) == 2  # never overwrites
    assert np.array_equal(read_photo(dst)[0].numpy(), result.numpy())


@pytest.mark.parametrize("name", ["RGB16", "L", "RGBA"])
def test_inpaint_is_bit_identical_outside_the_mask(tmp_path, tiny_model, name):
    src = tmp_path / "p.png"
    write_source(src, name)
    mask = np.zeros((21, 30), np.uint8)
    mask[5:12, 8:20] = 255
    mask[15, 3:25] = 100  # soft
    Image.fromarray(mask).save(tmp_path / "m.png")
    out = str(tmp_path / "o.png")
    assert main(["inpaint", str(src), str(tmp_path / "m.png"), out, "--steps", "3", "--model", tiny_model,
                 "--method", "repaint", "--jump-length", "2"]) == 0
    _, before = read_photo(str(src))
    _, after = read_photo(out)
    keep = mask == 0
    assert np.array_equal(after.stored[keep], before.stored[keep])
    assert not np.array_equal(after.stored[~keep], before.stored[~keep])


def test_inpaint_refuses_a_mask_of_another_size(tmp_path, capsys):
    write_source(tmp_path / "p.png", "RGB16")
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(tmp_path / "small.png")
    assert main(["inpaint", str(tmp_path / "p.png"), str(tmp_path / "small.png"), str(tmp_path / "o.png")]) == 2
    assert "the mask" in capsys.readouterr().err and not (tmp_path / "o.png").exists()


def test_denoise_refuses_a_bad_sigma(tmp_path, capsys):
    write_source(tmp_path / "p.png", "L")
    assert main(["denoise", str(tmp_path / "p.png"), str(tmp_path / "o.png"), "--sigma", "300"]) == 2
    assert "--sigma" in capsys.readouterr().err


def test_photo_nodes_name_bad_inputs():
    import noisekit

    inpaint_node = noisekit.NODE_CLASS_MAPPINGS["NoisekitInpaintPhoto"]()
    with pytest.raises(ValueError, match="input 'mask'"):
        inpaint_node.run(torch.rand(1, 8, 8, 3), torch.ones(1, 4, 4), "replace", 3, 0, 0, 0, "none", 1.0, 2, 1,
                         model=GaussianDenoiser())
    denoise_node = noisekit.NODE_CLASS_MAPPINGS["NoisekitDenoisePhoto"]()
    with pytest.raises(ValueError, match="input 'noise_level'"):
        denoise_node.run(torch.rand(1, 8, 8, 3), 300.0, "one_step", 4, 0, 512, model=GaussianDenoiser())
    with pytest.raises(ValueError, match="input 'path'"):
        noisekit.NODE_CLASS_MAPPINGS["NoisekitLoadModel"]().load("noisekit-default", "/nonexistent.safetensors")


def test_denoise_node_keeps_the_image_shape(tiny_model):
    import noisekit

    model = noisekit.NODE_CLASS_MAPPINGS["NoisekitLoadModel"]().load("noisekit-default", tiny_model)[0]
    image = torch.rand(2, 19, 27, 3)
    (out,) = noisekit.NODE_CLASS_MAPPINGS["NoisekitDenoisePhoto"]().run(image, 25.0, "sample", 2, 0, 128, model=model)
    assert out.shape == image.shape and out.dtype == image.dtype
