"""The family of camera pipelines (training/pipelines.py) against exact properties and the one-pipeline
simulator it extends (training/degrade.py)."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from noisekit.training.degrade import Camera, camera_noise, linear_to_srgb, mosaic, srgb_to_linear, to_u8
from noisekit.training.pipelines import (DEMOSAICS, EXPOSURE, HELD_OUT, SHARPENS, TONES, VARIANTS, Pipeline, apply_matrix,
                                         ahd, camera_output, chroma_nr, colour_matrix, demosaic_by, draw_pipeline,
                                         hamilton_adams, jpeg_roundtrip, malvar, median_hue, row_noise, sharpen,
                                         tone_curve)


def smooth_photo(h=48, w=64, seed=0, cycles=2.0):
    """A colour photo whose channels share their detail, as photos' do: a brightness made of a few random 2-D
    cosines (up to ``cycles`` across), tinted per channel, in [0.1, 0.9]."""
    gen = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    brightness = torch.zeros(h, w)
    for _ in range(3):
        fy, fx, phase = (torch.rand(3, generator=gen) * torch.tensor([cycles, cycles, 6.28])).tolist()
        brightness += torch.cos(6.28 * (fy * y + fx * x) + phase)
    brightness = brightness / brightness.abs().amax()
    tint = torch.tensor([0.35, 0.4, 0.3]).view(3, 1, 1)
    return (0.5 + tint * brightness)[None]


@pytest.mark.parametrize("kind", DEMOSAICS)
def test_every_demosaicer_keeps_a_flat_colour_and_the_measured_samples(kind):
    """A flat colour is reproduced by every demosaicer; the measured samples stay what they were (the
    8-bit VNG and 16-bit edge-aware ones to their rounding)."""
    flat = torch.tensor([0.6, 0.3, 0.45]).view(1, 3, 1, 1).expand(2, 3, 16, 20).contiguous()
    out = demosaic_by(mosaic(flat), kind)
    tol = 2e-2 if kind == "vng" else 1e-4
    assert out.shape == flat.shape and torch.allclose(out, flat, atol=tol)
    raw = mosaic(smooth_photo())
    inner = (slice(None), slice(None), slice(2, -2), slice(2, -2))  # OpenCV's own border handling aside
    assert torch.allclose(mosaic(demosaic_by(raw, kind))[inner], raw[inner], atol=tol)


def test_malvar_is_exact_on_linear_ramps_away_from_the_border():
    """Malvar-He-Cutler's filters are exact for any colour that is linear in x and y (their gradient
    correction is a second difference, zero on a ramp), and better than bilinear on smooth photos."""
    y, x = torch.meshgrid(torch.arange(20.0), torch.arange(24.0), indexing="ij")
    ramp = torch.stack([0.1 + 0.01 * x + 0.02 * y, 0.2 + 0.015 * x - 0.005 * y, 0.7 - 0.01 * x + 0.01 * y])[None]
    inner = (slice(None), slice(None), slice(2, -2), slice(2, -2))
    assert torch.allclose(malvar(mosaic(ramp))[inner], ramp[inner], atol=1e-5)
    photo = smooth_photo(seed=3, cycles=8.0)
    error = {kind: float((demosaic_by(mosaic(photo), kind) - photo)[inner].square().mean())
             for kind in ("bilinear", "malvar", "hamilton_adams")}
    assert error["malvar"] < error["bilinear"] and error["hamilton_adams"] < error["bilinear"]


def test_hamilton_adams_interpolates_green_along_an_edge():
    """A vertical edge: the horizontal gradient is large, so green at red and blue sites comes from above and
    below, which lie on the same side: the edge stays sharp (bilinear blurs it)."""
    image = torch.zeros(1, 3, 16, 16)
    image[..., 8:] = 1.0
    green = hamilton_adams(mosaic(image))[0, 1]
    assert torch.equal(green[2:-2, :8], torch.zeros(12, 8)) and torch.equal(green[2:-2, 9:], torch.ones(12, 7))


@pytest.mark.parametrize("turn", [0, 1])
def test_ahd_takes_the_direction_along_an_edge(turn):
    """A grey edge, vertical or horizontal: the picture interpolated across it rings, the one along it is
    exact and the more homogeneous, so AHD reproduces the edge exactly away from the border (bilinear
    does not)."""
    image = torch.zeros(1, 3, 16, 16)
    image[..., 8:] = 0.8
    image = image.rot90(turn, (2, 3))
    inner = (slice(None), slice(None), slice(2, -2), slice(2, -2))
    assert torch.allclose(ahd(mosaic(image))[inner], image[inner], atol=1e-6)
    assert (demosaic_by(mosaic(image), "bilinear") - image)[inner].abs().amax() > 0.1


def test_median_hue_halves_bilinear_error_on_a_photo_whose_channels_share_detail():
    """Bilinear interpolation puts false colour where red, green and blue come from different pixels; the
    colour differences of a photo whose channels share their detail are smooth, so their 3x3 median trims
    that false colour (at least half the squared error here) and the measured samples stay."""
    photo = smooth_photo(seed=1, cycles=8.0)
    inner = (slice(None), slice(None), slice(2, -2), slice(2, -2))
    error = {kind: float((demosaic_by(mosaic(photo), kind) - photo)[inner].square().mean())
             for kind in ("bilinear", "median_hue")}
    assert error["median_hue"] < 0.5 * error["bilinear"]
    assert torch.equal(mosaic(median_hue(mosaic(photo))), mosaic(photo))


def test_colour_matrix_keeps_white_and_inverts():
    m = colour_matrix(0.6)
    assert torch.allclose(m.sum(1), torch.ones(3)) and (m - torch.diag(m.diagonal()) <= 0).all()
    x = smooth_photo()
    assert torch.allclose(apply_matrix(apply_matrix(x, torch.linalg.inv(m)), m), x, atol=1e-5)
    assert torch.equal(colour_matrix(0.0), torch.eye(3))


@pytest.mark.parametrize("kind", TONES)
def test_tone_curves_are_increasing_from_black(kind):
    x = torch.linspace(0, 1, 1001)
    y = tone_curve(x, kind)
    assert float(y[0]) == 0 and (y.diff() > 0).all() and 0.85 < float(y[-1]) <= 1.0 + 1e-6


def test_sharpening_and_chroma_noise_reduction_leave_a_flat_photo_alone_and_act_on_detail():
    flat = torch.full((1, 3, 12, 12), 0.4)
    for kind in SHARPENS:
        assert torch.allclose(sharpen(flat, kind, 1.0, 1.0), flat, atol=1e-6)
    assert torch.allclose(chroma_nr(flat, 1.5), flat, atol=1e-6)
    edge = torch.zeros(1, 3, 12, 12)
    edge[..., 6:] = 0.5
    for kind in ("unsharp", "cross", "laplacian"):  # overshoot on both sides of the edge, grey stays grey
        out = sharpen(edge, kind, 1.0, 1.0)
        assert out[0, :, 0, 6].min() > 0.5 and out[0, :, 0, 5].max() < 0.0
        assert torch.allclose(out[0, 0], out[0, 1], atol=1e-5)


def test_laplacian_high_boosts_lift_a_checkerboard_by_their_frequency_response():
    """At the highest frequency (a 1-pixel grey checkerboard) the four-neighbour Laplacian responds 2 and the
    eight-neighbour one 1 (its diagonal neighbours share the centre's sign): amplitude 1 + 2a and 1 + a."""
    y, x = torch.meshgrid(torch.arange(12), torch.arange(12), indexing="ij")
    board = (0.5 + 0.1 * (-1.0) ** (x + y)).expand(1, 3, 12, 12)
    for kind, gain in (("cross", 2), ("laplacian", 1)):
        out = sharpen(board, kind, 0.7, 1.0)
        assert torch.allclose(out - 0.5, (board - 0.5) * (1 + 0.7 * gain), atol=1e-5)


def test_jpeg_subsampling_is_what_was_asked():
    """4:2:0 halves the chroma resolution: a 1-pixel chroma checkerboard survives 4:4:4 better."""
    y, x = np.mgrid[0:32, 0:32]
    board = np.where(((x + y) % 2)[..., None] == 0, [200, 60, 60], [60, 60, 200]).astype(np.uint8)
    err = {s: np.abs(jpeg_roundtrip(board, 95, s).astype(int) - board).mean() for s in ("4:4:4", "4:2:0")}
    assert err["4:4:4"] < err["4:2:0"] / 2


def test_the_family_extends_the_one_pipeline_simulator():
    """A camera of the family with degrade.py's stages (bilinear, identity matrix, sRGB, nothing else) and no
    noise develops a photo as degrade.camera_noise does; its clean target is the photo itself."""
    photo = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (1, 3, 24, 32))).float() / 255
    gains = (2.0, 1.0, 1.6)
    noisy, clean = camera_output(photo, [Pipeline(0.0, 0.0, gains)], torch.Generator().manual_seed(0))
    legacy = camera_noise(photo, [Camera(0.0, 0.0, gains, None)], torch.Generator().manual_seed(0))
    assert (noisy - legacy).abs().max() <= 1 / 255 + 1e-6 and (noisy - legacy).abs().mean() < 0.05 / 255
    assert torch.equal(clean, photo)


def test_noise_free_development_differs_from_the_target_only_by_the_demosaic_and_jpeg():
    """The target is the camera's look without the sensor; with no noise and a full-colour 'mosaic' the two
    agree, so the noisy-target gap is the sensor's alone: downscale and sharpening are applied to both."""
    photo = smooth_photo(64, 64)
    p = Pipeline(0.0, 0.0, (1.0, 1.0, 1.0), tone="filmic", sharpen="unsharp", amount=0.8, radius=1.0, scale=2.0)
    noisy, clean = camera_output(photo, [p], torch.Generator().manual_seed(0))
    assert noisy.shape == clean.shape == (1, 3, 32, 32)
    assert float((noisy - clean).abs()[..., 2:-2, 2:-2].mean()) < 2 / 255  # smooth photo: demosaic is near exact


def test_training_draws_never_use_a_held_out_stage_and_cover_the_rest():
    gen = torch.Generator().manual_seed(0)
    drawn = [draw_pipeline(gen) for _ in range(400)]
    for stage, names in HELD_OUT.items():
        used = {getattr(p, stage) for p in drawn}
        assert not used & set(names)
        assert used == set({"demosaic": DEMOSAICS, "tone": TONES, "sharpen": SHARPENS}[stage]) - set(names)
    assert {p.scale for p in drawn} == {1.0, 1.5, 2.0} and any(p.quality is None for p in drawn)
    assert all(50 <= p.quality <= 95 for p in drawn if p.quality is not None)
    assert {p.subsampling for p in drawn if p.quality} == {"4:2:0", "4:4:4"}
    exposures = np.log([p.exposure for p in drawn])
    assert np.log(EXPOSURE[0]) <= exposures.min() < np.log(EXPOSURE[0]) + 0.1
    assert np.log(EXPOSURE[1]) - 0.1 < exposures.max() <= np.log(EXPOSURE[1])


def test_exposure_is_a_linear_gain_before_the_tone_curve_in_both_the_noisy_and_the_clean():
    """The clean look at exposure 2 is the sRGB curve of twice the linear scene, clipped; on a photo with
    no sensor noise the developed output follows it (brighter by the same curve)."""
    photo = smooth_photo(32, 32) * 0.6
    p = Pipeline(1e-9, 1e-12, (1.0, 1.0, 1.0), exposure=2.0)
    noisy, clean = camera_output(photo, [p], torch.Generator().manual_seed(0))
    expected = to_u8(linear_to_srgb((2 * srgb_to_linear(photo)).clamp(0, 1))[0])
    assert np.array_equal(to_u8(clean[0]), expected)
    assert float((noisy - clean).abs()[..., 2:-2, 2:-2].mean()) < 2 / 255


def test_the_benchmark_variants_use_held_out_stages_where_they_say():
    for name, p in VARIANTS.items():
        uses = {stage for stage, names in HELD_OUT.items() if getattr(p, stage) in names}
        assert bool(uses) == name.startswith("held out"), name


def test_row_noise_is_constant_along_each_sensor_row():
    """With only row noise (no shot or read noise beyond it), each raw row is shifted by one offset."""
    flat = torch.full((1, 3, 32, 32), 0.5)
    p = replace(Pipeline(0.0, 1e-4, (1.0, 1.0, 1.0)), rows=1.0)
    offsets = row_noise((4, 1, 32, 32), torch.tensor(1e-2), torch.tensor(p.rows), torch.Generator().manual_seed(0))
    assert offsets.shape == (4, 1, 32, 1) and float(offsets.std()) == pytest.approx(1e-2, rel=0.3)
    noisy, _ = camera_output(flat, [p], torch.Generator().manual_seed(0))
    assert noisy.shape == flat.shape


def test_plain_draws_are_the_one_pipeline_simulators_development():
    gen = torch.Generator().manual_seed(1)
    drawn = [draw_pipeline(gen, plain=1.0) for _ in range(200)]
    assert {(p.demosaic, p.tone, p.sharpen, p.matrix, p.chroma_nr, p.rows, p.scale, p.exposure) for p in drawn} == {
        ("bilinear", "srgb", "none", 0.0, 0.0, 0.0, 1.0, 1.0)}
    qualities = [p.quality for p in drawn]
    assert 60 < sum(q is None for q in qualities) < 140 and all(60 <= q <= 95 for q in qualities if q)
    mixed = [draw_pipeline(gen, plain=0.3) for _ in range(400)]
    assert 80 < sum(p.demosaic == "bilinear" and p.matrix == 0.0 for p in mixed) < 170
