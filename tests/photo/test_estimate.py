"""Noise-level estimation (photo/estimate.py): accuracy on synthetic noise, exact helper values."""
import math
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from noisekit.photo.estimate import (binned_sigma, clipped_variance_ratio, estimate_sigma, luma_reading,
                                     noise_eigen_mean, white_sigma)
from noisekit.training.degrade import CAMERA_LEVELS, camera_noise, from_u8
from noisekit.training.pipelines import VARIANTS, camera_output

INPUT = os.path.join(os.path.dirname(__file__), "..", "..", "example_workflows", "input")


def smooth_image(h=128, w=128, seed=0, lo=0.05, hi=0.95):
    """A procedural photo-like image: smooth gradients and blobs spanning [lo, hi]."""
    g = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    channels = []
    for _ in range(3):
        a, b, c = torch.rand(3, generator=g) * 6
        channels.append(torch.sin(a * x + b * y) + torch.cos(c * x * y * 3))
    img = torch.stack(channels, -1)
    img = (img - img.min()) / (img.max() - img.min())
    return (lo + (hi - lo) * img)[None]


def textured_image(h=128, w=128):
    """The smooth image plus fine stripes and a checkerboard: texture that inflates wavelet-MAD estimates."""
    y, x = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    texture = 0.06 * torch.sin(2.1 * x + 0.7 * y) + 0.04 * ((x + y) % 2 * 2 - 1)
    return (smooth_image(h, w, lo=0.15, hi=0.85) + texture[None, :, :, None]).clamp(0, 1)


def photo_noise(clean, sigma255, seed):
    """Gaussian noise, clipped to [0, 1] and quantised to 8 bits, as in a real noisy photo."""
    g = torch.Generator().manual_seed(seed)
    return ((clean + sigma255 / 255 * torch.randn(clean.shape, generator=g)).clamp(0, 1) * 255).round() / 255


@pytest.mark.parametrize("sigma255", [5, 10, 15, 25, 35, 50])
def test_within_10_percent_on_a_smooth_image(sigma255):
    estimate = estimate_sigma(photo_noise(smooth_image(), sigma255, sigma255)) * 255
    assert estimate == pytest.approx(sigma255, rel=0.10)


@pytest.mark.parametrize("sigma255", [5, 25])
def test_within_10_percent_on_a_textured_image(sigma255):
    estimate = estimate_sigma(photo_noise(textured_image(), sigma255, sigma255)) * 255
    assert estimate == pytest.approx(sigma255, rel=0.10)


def test_clipping_is_corrected():
    """Half the image is near black: a quarter of its noise is clipped away at sigma 50."""
    clean = smooth_image(lo=0.0, hi=0.6)
    assert estimate_sigma(photo_noise(clean, 50, 1)) * 255 == pytest.approx(50, rel=0.10)


def test_noise_eigen_mean_finds_the_flat_tail():
    eigenvalues = torch.tensor([40.0, 9.0, 3.0, 1.1, 1.0, 1.0, 0.9], dtype=torch.float64)
    assert noise_eigen_mean(eigenvalues) == pytest.approx(1.0)


def test_clipped_variance_ratio_exact_values():
    mu = torch.tensor([0.5, 0.0], dtype=torch.float64)
    ratio = clipped_variance_ratio(mu, 1e-3)
    assert float(ratio[0]) == pytest.approx(1.0, abs=1e-9)  # far from 0 and 1: no clipping
    assert float(ratio[1]) == pytest.approx(0.5 - 1 / (2 * math.pi), rel=1e-6)  # max(0, z): half-normal variance


def test_too_small_an_image_is_refused():
    with pytest.raises(ValueError, match="estimate_sigma.*too small"):
        estimate_sigma(torch.rand(1, 6, 40, 3))


@pytest.mark.parametrize("sigma255", [5, 15, 30])
def test_correlated_noise_is_not_under_read(sigma255):
    """Noise blurred by the bilinear demosaic kernel, of RMS sigma: per-pixel PCA sees a quarter of it;
    the estimate (which adds binned views) reads at least the RMS."""
    kernel = torch.tensor([1.0, 2.0, 1.0])
    kernel = (kernel[:, None] * kernel[None]) / 16
    noise = F.conv2d(torch.randn(3, 1, 130, 130, generator=torch.Generator().manual_seed(sigma255)),
                     kernel[None, None])[:, 0].permute(1, 2, 0)
    noisy = ((smooth_image()[0] + noise / noise.std() * sigma255 / 255).clamp(0, 1) * 255).round() / 255
    assert white_sigma(noisy[None], 5, 0.5, 40_000) * 255 < 0.3 * sigma255
    assert sigma255 <= estimate_sigma(noisy) * 255 <= 2 * sigma255


def test_block_noise_reads_as_the_binned_views_white_noise_doubled():
    """Each 2x2 block one white draw of std s: the binned view holds white noise of std s exactly."""
    noise = torch.randn(64, 64, 3, generator=torch.Generator().manual_seed(0)) * 10 / 255
    blocks = noise.repeat_interleave(2, 0).repeat_interleave(2, 1)
    assert estimate_sigma(smooth_image()[0] + blocks) * 255 == pytest.approx(20, rel=0.1)


@pytest.mark.parametrize("level", ["moderate, PNG", "high, JPEG q90"])
@pytest.mark.parametrize("corner", [(0, 0), (44, 150)])
def test_camera_noise_on_a_photo_reads_its_rms(level, corner):
    """The camera model is conditioned on the noise's RMS, so auto must read the RMS, here on a photo
    with the benchmark's camera noise (the unweighted 4x view read well above 1.2x the RMS here)."""
    y, x = corner
    photo = np.asarray(Image.open(os.path.join(INPUT, "chelsea.png")).convert("RGB"))[y:y + 256, x:x + 256]
    clean = from_u8(photo)[None]
    noisy = camera_noise(clean, [CAMERA_LEVELS[level]], torch.Generator().manual_seed(0))
    rms = float((noisy - clean).square().mean().sqrt())
    assert binned_sigma(noisy.movedim(1, -1), 1) < 0.1 * rms  # per-pixel PCA alone misses ~all of it
    assert 0.9 * rms <= estimate_sigma(noisy[0].movedim(0, -1)) <= 1.2 * rms


@pytest.mark.parametrize("corner", [(0, 0), (44, 150)])
def test_the_luma_reading_is_one_multiple_of_camera_noise_whatever_the_pipeline(corner):
    """The camera model is conditioned on the luma reading, so it must follow the noise however a camera
    developed it: on a photo through every benchmark camera (training/pipelines.py VARIANTS, and degrade.py's
    two levels), reading / RMS stays within 1.5x. estimate_sigma, on all three channels, where the smallest
    eigenvalues are chroma that sharpening left alone and JPEG stripped, spreads over 1.85x."""
    y, x = corner
    photo = np.asarray(Image.open(os.path.join(INPUT, "chelsea.png")).convert("RGB"))[y:y + 256, x:x + 256]
    clean = from_u8(photo)[None]
    pairs = [camera_output(clean, [p], torch.Generator().manual_seed(0)) for p in VARIANTS.values()]
    pairs += [(camera_noise(clean, [c], torch.Generator().manual_seed(0)), clean) for c in CAMERA_LEVELS.values()]
    luma, channels = [], []
    for noisy, target in pairs:
        rms, image = float((noisy - target).square().mean().sqrt()), noisy[0].movedim(0, -1)
        assert binned_sigma(image[None], 1) < 0.75 * rms  # per-pixel PCA alone misses much of it
        luma.append(luma_reading(image) / rms)
        channels.append(estimate_sigma(image) / rms)
    assert max(luma) / min(luma) < 1.5 and max(channels) / min(channels) > 1.85


def test_the_luma_reading_of_white_noise_is_its_std_and_of_a_grey_photo_the_estimate():
    photo = (0.5 + 12 / 255 * torch.randn(256, 256, 3, generator=torch.Generator().manual_seed(3))).clamp(0, 1)
    assert luma_reading(photo) * 255 == pytest.approx(12, rel=0.05)
    grey = photo[..., :1]
    assert luma_reading(grey) == estimate_sigma(grey)
