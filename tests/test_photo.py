"""Photo denoise and inpaint: estimator, tiling, exact answers, bit-identity, file I/O."""
import math
import os

import numpy as np
import pytest
import torch
from PIL import Image

from noisekit.models.analytic import GaussianDenoiser
from noisekit.models.loader import save_model
from noisekit.models.unet import UNet, UNetConfig
from noisekit.models.wrappers import EDMDenoiser
from noisekit.runner.cli import main
from noisekit.samplers import Sampler
from noisekit.samplers.denoise import denoise
from noisekit.samplers.estimate import estimate_sigma
from noisekit.samplers.inpaint import crop_box, inpaint
from noisekit.samplers.tiling import TiledDenoiser


def smooth_image(h=128, w=160, seed=0):
    """A procedural 'photo': smooth gradients and blobs in [0.2, 0.8]."""
    g = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    channels = []
    for _ in range(3):
        a, b, c = torch.rand(3, generator=g) * 6
        channels.append(0.5 + 0.15 * torch.sin(a * x + b * y) + 0.15 * torch.cos(c * x * y * 3))
    return torch.stack(channels, -1)[None]


@pytest.mark.parametrize("sigma255", [5, 15, 25, 50])
def test_noise_estimate_within_10_percent(sigma255):
    clean = smooth_image(256, 256)
    g = torch.Generator().manual_seed(sigma255)
    noisy = ((clean + sigma255 / 255 * torch.randn(clean.shape, generator=g)).clamp(0, 1) * 255).round() / 255
    assert estimate_sigma(noisy) * 255 == pytest.approx(sigma255, rel=0.10)


class Blur:
    """A translation-equivariant conv 'denoiser' (3x3 box blur) to test tile blending."""
    sigma_min, sigma_max, parameterisation = 0.002, 80.0, "x0"

    def __call__(self, x, sigma, **kw):
        return torch.nn.functional.avg_pool2d(torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate"), 3, 1)


def test_tiling_equals_untiled():
    x = torch.randn(1, 3, 100, 130, dtype=torch.float64)
    sigma = torch.tensor([0.3], dtype=torch.float64)
    exact = GaussianDenoiser(0.1, 0.5)
    torch.testing.assert_close(TiledDenoiser(exact, 64, 16)(x, sigma), exact(x, sigma))
    tiled = TiledDenoiser(Blur(), 64, 16)(x, sigma)
    full = Blur()(x, sigma)
    assert TiledDenoiser(Blur(), 64, 16).count(100, 130) == 6
    interior = (tiled - full)[..., 1:-1, 1:-1].abs()
    assert float(interior.max()) < 0.05 and float(interior.mean()) < 1e-3


def test_tiling_leaves_no_seam():
    flat = torch.full((1, 3, 90, 90), 0.3)
    out = TiledDenoiser(Blur(), 32, 8)(flat, torch.tensor([0.1]))
    torch.testing.assert_close(out, flat)
    ramp = torch.linspace(-1, 1, 90).expand(1, 3, 90, 90).contiguous()
    out = TiledDenoiser(Blur(), 32, 8)(ramp, torch.tensor([0.1]))
    steps = torch.diff(out[0, 0, 45, 1:-1])
    assert float(steps.max() - steps.min()) < 1e-5  # the ramp stays a ramp across tile borders


def test_one_step_denoise_is_the_posterior_mean():
    image = smooth_image(24, 40).double()
    model = GaussianDenoiser(0.0, 0.6)
    out = denoise(model, image, sigma=20 / 255, tile=64, overlap=16)
    x, s = image.movedim(-1, 1) * 2 - 1, 2 * 20 / 255
    expected = ((0.36 / (0.36 + s**2) * x).movedim(1, -1) + 1) / 2
    torch.testing.assert_close(out, expected.clamp(0, 1))


def test_sampling_mode_ends_on_the_data_for_a_point_mass():
    out = denoise(GaussianDenoiser(0.2, 0.0), smooth_image(16, 16), sigma=0.1, mode="sample", steps=6,
                  sampler=Sampler("euler_ancestral"), tile=64, overlap=16)
    torch.testing.assert_close(out, torch.full_like(out, 0.6))


def _mask(h=40, w=48):
    mask = torch.zeros(1, h, w)
    mask[0, 10:20, 15:30] = 1
    mask[0, 30, 5:40] = 0.5  # a soft scratch
    return mask


@pytest.mark.parametrize("method", ["replace", "repaint"])
def test_inpaint_keeps_the_known_region_bit_identical(method):
    image = torch.rand(1, 40, 48, 3)
    out = inpaint(GaussianDenoiser(0.0, 0.5), image, _mask(), method, steps=6, seed=3, jump_length=3)
    keep = _mask()[0] == 0
    assert torch.equal(out[0][keep], image[0][keep])
    assert not torch.equal(out[0][~keep], image[0][~keep])
    again = inpaint(GaussianDenoiser(0.0, 0.5), image, _mask(), method, steps=6, seed=3, jump_length=3)
    assert torch.equal(out, again)
    other = inpaint(GaussianDenoiser(0.0, 0.5), image, _mask(), method, steps=6, seed=4, jump_length=3)
    assert not torch.equal(out, other)


def test_inpaint_point_mass_fills_exactly_and_grow_widens():
    image = torch.rand(1, 40, 48, 3)
    out = inpaint(GaussianDenoiser(0.4, 0.0), image, _mask(), "replace", steps=5, grow=2)
    hole = (_mask()[0] == 1)
    torch.testing.assert_close(out[0][hole], torch.full_like(out[0][hole], 0.7))
    grown_edge = torch.zeros(40, 48, dtype=torch.bool)
    grown_edge[8:10, 16:29] = True  # inside the grown mask, outside the original
    assert not torch.equal(out[0][grown_edge], image[0][grown_edge])


def test_crop_box_covers_mask_with_context():
    t, b, l, r = crop_box(_mask(200, 300), context=8)
    assert t <= 10 and b >= 31 and l <= 5 and r >= 40 and (b - t) < 200


def _tiny_model_file(tmp_path):
    torch.manual_seed(0)
    path = str(tmp_path / "tiny.safetensors")
    save_model(EDMDenoiser(UNet(UNetConfig(channels=8, mults=(1, 2), blocks=1, emb_dim=16, groups=4))), path)
    return path


@pytest.mark.parametrize("mode,ext", [("L", ".png"), ("RGB", ".jpg"), ("RGBA", ".png"), ("I;16", ".png")])
def test_cli_denoise_keeps_size_and_mode(tmp_path, mode, ext):
    src = str(tmp_path / f"in{ext}")
    rng = np.random.default_rng(0)
    if mode == "I;16":
        Image.fromarray(rng.integers(0, 65535, (21, 30), dtype=np.uint16)).save(src)
    else:
        Image.fromarray(rng.integers(0, 255, (21, 30, 4), dtype=np.uint8)[..., :len(mode)].squeeze(),
                        mode).save(src)
    dst = str(tmp_path / f"out{ext}")
    args = ["denoise", src, dst, "--model", _tiny_model_file(tmp_path), "--sigma", "20"]
    assert main(args) == 0
    out, inp = Image.open(dst), Image.open(src)
    assert out.size == inp.size and out.mode == inp.mode
    if mode == "RGBA":
        assert np.array_equal(np.asarray(out.getchannel("A")), np.asarray(inp.getchannel("A")))
    assert main(args) == 2  # never overwrites


def test_cli_inpaint_bit_identical_outside_the_mask(tmp_path):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "p.png")
    mask = np.zeros((24, 32), np.uint8)
    mask[5:12, 8:20] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    out = str(tmp_path / "o.png")
    assert main(["inpaint", str(tmp_path / "p.png"), str(tmp_path / "m.png"), out, "--steps", "3",
                 "--model", _tiny_model_file(tmp_path), "--method", "replace"]) == 0
    result = np.asarray(Image.open(out))
    assert np.array_equal(result[mask == 0], pixels[mask == 0])
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(tmp_path / "small.png")
    assert main(["inpaint", str(tmp_path / "p.png"), str(tmp_path / "small.png"), str(tmp_path / "o2.png")]) == 2


def test_photo_nodes_name_bad_inputs():
    import noisekit

    node = noisekit.NODE_CLASS_MAPPINGS["NoisekitInpaintPhoto"]()
    with pytest.raises(ValueError, match="input 'mask'"):
        node.run(GaussianDenoiser(), torch.rand(1, 8, 8, 3), torch.ones(1, 4, 4), "replace", 3, 0, 0, 0, "none", 1.0,
                 2, 1)
    with pytest.raises(ValueError, match="input 'path'.*truncated|input 'path'.*no model file"):
        noisekit.NODE_CLASS_MAPPINGS["NoisekitLoadModel"]().load("noisekit-default", "/nonexistent.safetensors")
