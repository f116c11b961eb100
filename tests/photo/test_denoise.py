"""Photo denoising (photo/denoise.py): exact answers with analytic denoisers, modes, seeds, errors."""
import pytest
import torch

from noisekit.models.analytic import GaussianDenoiser
from noisekit.models.unet import UNet, UNetConfig
from noisekit.models.wrappers import EDMDenoiser
from noisekit.samplers import Sampler
from noisekit.photo.denoise import DenoiseOptions, denoise_photo
from noisekit.models.space import photo_to_model_sigma
from noisekit.photo.estimate import estimate_sigma


def image(h=24, w=40, batch=1, seed=0):
    return torch.rand(batch, h, w, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 0.6 + 0.2


def tiny_unet():
    torch.manual_seed(0)
    return EDMDenoiser(UNet(UNetConfig(channels=8, mults=(1, 2), blocks=1, emb_dim=16, groups=4))).eval()


def test_photo_sigma_maps_to_model_space():
    assert photo_to_model_sigma(25 / 255) == pytest.approx(50 / 255)  # [0,1] -> [-1,1] doubles distances


def test_one_step_is_the_closed_form_posterior_mean():
    """Data N(m, v) per pixel in model space: E[x0 | x] = m + v / (v + s^2) (x - m), s = 2 sigma."""
    img, m, v = image(), 0.1, 0.36
    out = denoise_photo(GaussianDenoiser(m, v**0.5), img, DenoiseOptions(sigma=20 / 255, tile=64, overlap=16))
    x, s = img * 2 - 1, 2 * 20 / 255
    torch.testing.assert_close(out, ((m + v / (v + s**2) * (x - m)) + 1) / 2, rtol=0, atol=1e-12)


def test_auto_sigma_is_estimated_per_item():
    """Two items with different noise: each is denoised at its own estimated level."""
    g = torch.Generator().manual_seed(1)
    clean = torch.full((2, 64, 64, 3), 0.5, dtype=torch.float64)
    noisy = (clean + torch.randn(clean.shape, generator=g, dtype=torch.float64)
             * torch.tensor([10 / 255, 40 / 255], dtype=torch.float64).reshape(2, 1, 1, 1))
    model = GaussianDenoiser(0.0, 0.5)
    out = denoise_photo(model, noisy, DenoiseOptions("auto", tile=64, overlap=16))
    for i in range(2):
        single = denoise_photo(model, noisy[i:i + 1], DenoiseOptions(estimate_sigma(noisy[i]), tile=64, overlap=16))
        torch.testing.assert_close(out[i:i + 1], single, rtol=0, atol=1e-12)


def test_sample_mode_follows_the_exact_ode():
    """With an ODE sampler the result is the probability-flow transport from sigma to sigma_min,
    then D(., sigma_min); for Gaussian data both are closed forms."""
    img, model = image(), GaussianDenoiser(0.0, 0.5)
    s = photo_to_model_sigma(30 / 255)
    out = denoise_photo(model, img, DenoiseOptions(30 / 255, "sample", steps=40, sampler=Sampler("heun"), tile=64,
                                                overlap=16))
    x = model.ode_solution(img.movedim(-1, 1) * 2 - 1, s, model.sigma_min)
    expected = ((model(x, torch.tensor([model.sigma_min])).movedim(1, -1) + 1) / 2).clamp(0, 1)
    torch.testing.assert_close(out, expected, rtol=0, atol=5e-5)  # heun's O(h^2) error at 40 steps
    assert float((out - denoise_photo(model, img, DenoiseOptions(30 / 255, tile=64, overlap=16))).abs().max()) > 1e-3  # != one-step


def test_sample_mode_ends_on_the_data_for_a_point_mass():
    out = denoise_photo(GaussianDenoiser(0.2, 0.0), image(16, 16), DenoiseOptions(
        0.1, "sample", steps=6, sampler=Sampler("euler_ancestral"), tile=64, overlap=16))
    torch.testing.assert_close(out, torch.full_like(out, 0.6))


def test_seeds_are_deterministic_and_per_item():
    model, batch = GaussianDenoiser(0.0, 0.5), image(16, 24, batch=2)
    run = lambda img, seed: denoise_photo(model, img, DenoiseOptions(
        25 / 255, "sample", 5, Sampler("euler_ancestral"), seed, tile=64, overlap=16))
    out = run(batch, 7)
    assert torch.equal(out, run(batch, 7)) and not torch.equal(out, run(batch, 8))
    assert torch.equal(out[1:], run(batch[1:], 8))  # item i of a batch run with seed S == seed S + i alone


def test_keeps_size_dtype_and_range_with_a_unet_and_tiles():
    img = image(37, 75).float()
    model = tiny_unet()
    out = denoise_photo(model, img, DenoiseOptions(25 / 255, tile=32, overlap=8))
    assert out.shape == img.shape and out.dtype == img.dtype
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    untiled = denoise_photo(model, img, DenoiseOptions(25 / 255, tile=128, overlap=8))
    assert float((out - untiled).abs().mean()) < 0.01  # a UNet sees beyond a tile: close, not equal


def test_progress_reaches_its_total_in_order():
    seen = []
    denoise_photo(GaussianDenoiser(0.0, 0.5), image(40, 40, batch=2),
                  DenoiseOptions(0.1, "sample", 3, Sampler("heun"), tile=32, overlap=8),
                  progress=lambda done, total: seen.append((done, total)))
    totals = {t for _, t in seen}
    assert totals == {2 * 3 * 4}  # items x steps x tiles, even though heun calls the model twice a step
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1][0] == 2 * 3 * 4


@pytest.mark.parametrize("kwargs,match", [
    ({"sigma": 25}, r"denoise: sigma.*25/255"),
    ({"sigma": 0.0}, r"denoise: sigma"),
    ({"mode": "two_step"}, r"denoise: mode"),
    ({"sigma": 0.5}, r"exceeds the model's sigma_max"),
])
def test_bad_arguments_name_the_parameter(kwargs, match):
    model = GaussianDenoiser(0.0, 0.5, sigma_max=0.5)
    with pytest.raises(ValueError, match=match):
        denoise_photo(model, image(), DenoiseOptions(**{"sigma": 0.1, **kwargs}))
