"""The noise level (photo/noise_level.py), each step: auto estimates, the floor, the implausible flag, a given
level as it is, model space; and the commands, denoise_photo and both node routes go through it."""
import math

import pytest
import torch

from noisekit.models.analytic import GaussianDenoiser
from noisekit.models.space import PixelVAE
from noisekit.photo import noise_level as policy
from noisekit.photo.denoise import DenoiseOptions, denoise_photo
from noisekit.photo.estimate import estimate_sigma, luma_reading
from noisekit.photo.latent import denoise_latent
from noisekit.photo.noise_level import NOISE_FLOOR, PLAUSIBLE, NoiseLevel, noise_level, reading_of


def noisy(std255: float, side: int = 64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (0.5 + std255 / 255 * torch.randn(side, side, 3, generator=g, dtype=torch.float64)).clamp(0, 1)


def test_auto_is_the_photos_estimate():
    photo = noisy(20)
    level = noise_level(photo, "auto")
    assert level == NoiseLevel(estimate_sigma(photo), estimated=True)
    assert abs(level.sigma * 255 - 20) < 1 and level.implausible is None


@pytest.mark.parametrize("estimate", [0.0, 0.2 / 255, math.nan])
def test_an_estimate_below_the_floor_or_nothing_measurable_is_denoised_at_the_floor(monkeypatch, estimate):
    monkeypatch.setattr(policy, "estimate_sigma", lambda photo: estimate)
    level = noise_level(torch.zeros(16, 16, 3))
    assert level == NoiseLevel(NOISE_FLOOR, estimated=True) and level.implausible == "low"


def test_a_flat_photo_reads_no_noise_and_gets_the_floor():
    assert noise_level(torch.full((32, 32, 3), 0.5)) == NoiseLevel(NOISE_FLOOR, estimated=True)


@pytest.mark.parametrize("std255,flag", [(0.7, "low"), (PLAUSIBLE[0], None), (20, None), (PLAUSIBLE[1], None),
                                         (PLAUSIBLE[1] + 1, "high")])
def test_an_estimate_outside_the_plausible_range_is_flagged(std255, flag):
    assert NoiseLevel(std255 / 255, estimated=True).implausible == flag


def test_a_given_level_is_used_as_it_is_without_estimating(monkeypatch):
    monkeypatch.setattr(policy, "estimate_sigma", lambda photo: pytest.fail("estimated a given level"))
    for sigma in (0.1 / 255, 25 / 255, 0.9):  # below the floor and above the plausible range too
        level = noise_level(torch.zeros(16, 16, 3), sigma)
        assert level == NoiseLevel(sigma) and level.implausible is None


def test_model_space_doubles_the_level_inside_the_models_range():
    model = GaussianDenoiser(0.0, 0.5, sigma_min=0.01, sigma_max=0.5)
    assert NoiseLevel(25 / 255).in_model(model) == 50 / 255
    assert NoiseLevel(NOISE_FLOOR).in_model(model) == 0.01  # raised to sigma_min
    with pytest.raises(ValueError, match=r"noise std 0\.3000 \(model sigma 0\.600\) exceeds the model's sigma_max"):
        NoiseLevel(0.3).in_model(model)


def test_auto_reads_what_the_model_was_conditioned_on():
    """A model that says it was conditioned on the luma reading gets it; any other the white-noise estimate."""
    photo = noisy(20, side=96)
    photo[..., 0] = photo[..., 0] * 0.5  # unequal channels: the two readings differ
    luma = GaussianDenoiser(0.0, 0.5)
    luma.noise_reading = "luma"
    assert reading_of(luma) == "luma" and reading_of(GaussianDenoiser(0.0, 0.5)) == "white"
    assert noise_level(photo, "auto", reading="luma").sigma == luma_reading(photo) != estimate_sigma(photo)
    assert denoise_photo(luma, photo[None], DenoiseOptions("auto")).equal(
        denoise_photo(luma, photo[None], DenoiseOptions(luma_reading(photo))))


def test_strength_multiplies_the_level_the_model_removes():
    model = GaussianDenoiser(0.0, 0.5, sigma_min=0.01, sigma_max=0.5)
    assert NoiseLevel(25 / 255, strength=2).in_model(model) == pytest.approx(100 / 255)
    assert NoiseLevel(25 / 255, estimated=True, strength=0.5).in_model(model) == pytest.approx(25 / 255)
    with pytest.raises(ValueError, match=r"noise std 0\.2000 x strength 2 \(model sigma 0\.800\) exceeds"):
        NoiseLevel(0.2, strength=2).in_model(model)
    # The Gaussian denoiser's closed form: strength s on a given level is that level times s, for both routes.
    photo = torch.rand(1, 24, 24, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.equal(denoise_photo(model, photo, DenoiseOptions(10 / 255, strength=3)),
                       denoise_photo(model, photo, DenoiseOptions(30 / 255)))
    auto = noise_level(photo[0], "auto", strength=1.5)
    assert auto.sigma == noise_level(photo[0], "auto").sigma and auto.strength == 1.5
    with pytest.raises(ValueError, match="strength must be a number above 0"):
        DenoiseOptions(strength=0)


def test_denoise_photo_and_the_latent_route_denoise_at_the_policys_level():
    """Both routes on a noise-free photo: at the floor, as if it were given (not at the model's sigma_min)."""
    model = GaussianDenoiser(0.0, 0.5)
    flat = torch.full((1, 32, 32, 3), 0.8, dtype=torch.float64)
    at_floor = denoise_photo(model, flat, DenoiseOptions(NOISE_FLOOR))
    assert not torch.equal(at_floor, denoise_photo(model, flat, DenoiseOptions(model.sigma_min / 2)))
    assert torch.equal(denoise_photo(model, flat, DenoiseOptions("auto")), at_floor)

    def run(latent, seed, fn):  # what adapter.run_guided does with a GUIDER: fn on the model and the latent
        return fn(model, latent)

    assert torch.equal(denoise_latent(PixelVAE(), run, flat.float(), DenoiseOptions("auto")),
                       denoise_latent(PixelVAE(), run, flat.float(), DenoiseOptions(NOISE_FLOOR)))
