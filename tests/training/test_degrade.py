"""The unprocessing camera-noise pipeline (training/degrade.py) against exact properties."""
import io

import numpy as np
import pytest
import torch
from PIL import Image

from noisekit.training.degrade import (Camera, bayer_masks, camera_noise, demosaic, draw_cameras, jpeg,
                                       linear_to_srgb, mosaic, raw_noise, read_noise, srgb_to_linear)

# ITU-T T.81 Annex K.1 luminance quantisation table (natural order)
ANNEX_K_LUMA = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
                14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
                49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]


def test_tone_curve_inverts_exactly_and_has_the_standard_values():
    x = torch.linspace(0, 1, 100001, dtype=torch.float64)
    assert torch.allclose(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-12, rtol=0)
    # the standard's two pieces miss each other by 2e-9 at the knee: the other direction inverts to that
    assert torch.allclose(srgb_to_linear(linear_to_srgb(x)), x, atol=1e-8, rtol=0)
    assert float(srgb_to_linear(torch.tensor(0.5, dtype=torch.float64))) == pytest.approx(0.2140411, abs=1e-7)
    assert float(srgb_to_linear(torch.tensor(1.0, dtype=torch.float64))) == pytest.approx(1.0, abs=1e-12)
    knee = torch.tensor([0.04045], dtype=torch.float64)  # both pieces meet there (continuity)
    assert float(knee / 12.92) == pytest.approx(float(((knee + 0.055) / 1.055) ** 2.4), rel=1e-4)


@pytest.mark.parametrize("level", [0.05, 0.2, 0.7])
def test_raw_noise_variance_is_shot_times_signal_plus_read(level):
    shot, read = 0.01, 2e-4
    raw = torch.full((4, 1, 500, 500), level, dtype=torch.float64)
    noisy = raw_noise(raw, torch.tensor(shot, dtype=torch.float64), torch.tensor(read, dtype=torch.float64),
                      torch.Generator().manual_seed(0))
    # 1e6 samples: the sample variance's relative std is sqrt(2 / 1e6) = 0.14%
    assert float(noisy.var()) == pytest.approx(shot * level + read, rel=0.01)
    assert float(noisy.mean()) == pytest.approx(level, abs=5 * (shot * level + read) ** 0.5 / 1000)


def test_bayer_pattern_is_rggb_with_half_green():
    m = bayer_masks(4, 6)
    assert torch.equal(m.sum(0), torch.ones(4, 6))
    assert m[0, 0, 0] == 1 and m[1, 0, 1] == 1 and m[1, 1, 0] == 1 and m[2, 1, 1] == 1
    assert m[1].mean() == 0.5 and m[0].mean() == 0.25 and m[2].mean() == 0.25


def test_demosaic_of_a_constant_image_is_exact_everywhere():
    rgb = torch.tensor([0.3, 0.55, 0.8], dtype=torch.float64)[None, :, None, None].expand(2, 3, 7, 10)
    assert torch.allclose(demosaic(mosaic(rgb)), rgb, atol=1e-15, rtol=0)


def test_demosaic_keeps_samples_and_reproduces_linear_ramps_inside():
    y, x = torch.meshgrid(torch.arange(12.0, dtype=torch.float64), torch.arange(14.0, dtype=torch.float64),
                          indexing="ij")
    ramp = torch.stack([0.01 * x + 0.02 * y, 0.03 * x - 0.01 * y, 0.5 - 0.02 * x])[None]
    out = demosaic(mosaic(ramp))
    masks = bayer_masks(12, 14).bool()[None]
    assert torch.equal(out[masks], ramp[masks])  # measured samples untouched
    assert torch.allclose(out[..., 1:-1, 1:-1], ramp[..., 1:-1, 1:-1], atol=1e-12)  # bilinear is exact on planes


@pytest.mark.parametrize("quality", [60, 75, 90, 95])
def test_jpeg_honours_the_quality(quality):
    """The luminance table is Annex K's scaled by libjpeg's quality rule: scale = 200 - 2q for q >= 50."""
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    table = Image.open(io.BytesIO(jpeg(image, quality))).quantization[0]
    expected = [min(255, max(1, (q * (200 - 2 * quality) + 50) // 100)) for q in ANNEX_K_LUMA]
    assert sorted(table) == sorted(expected)  # Pillow returns the table in zigzag order
    assert table[0] == expected[0]


def test_noiseless_camera_returns_a_flat_photo_unchanged():
    flat = torch.tensor([60, 128, 200], dtype=torch.float32)[None, :, None, None].expand(2, 3, 16, 16) / 255
    cams = [Camera(shot=0.0, read=1e-12, gains=(2.1, 1.0, 1.7)), Camera(shot=0.0, read=1e-12)]
    out = camera_noise(flat, cams, torch.Generator().manual_seed(0))
    assert torch.equal((out * 255).round(), (flat * 255).round())


def test_camera_output_is_8_bit_and_brighter_pixels_are_noisier_in_linear_space():
    grey = torch.cat([torch.full((1, 3, 64, 64), 0.15), torch.full((1, 3, 64, 64), 0.8)])
    cam = Camera(shot=0.01, read=float(read_noise(torch.tensor(0.01))))
    out = camera_noise(grey, [cam, cam], torch.Generator().manual_seed(0))
    assert torch.equal(out * 255, (out * 255).round())
    linear_var = srgb_to_linear(out).var(dim=(1, 2, 3))
    assert linear_var[1] > 2 * linear_var[0]


def test_drawn_cameras_follow_the_read_fit_and_quality_range():
    cams = draw_cameras(4000, torch.Generator().manual_seed(0))
    shot = torch.tensor([c.shot for c in cams], dtype=torch.float64)
    read = torch.tensor([c.read for c in cams], dtype=torch.float64)
    residual = read.log() - read_noise(shot).log()
    assert abs(float(residual.mean())) < 0.03 and float(residual.std()) == pytest.approx(0.26, rel=0.05)
    assert 1e-4 <= float(shot.min()) and float(shot.max()) <= 1.2e-2
    qualities = [c.quality for c in cams if c.quality is not None]
    assert 0.45 < len(qualities) / len(cams) < 0.55 and min(qualities) == 60 and max(qualities) == 95
