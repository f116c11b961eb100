"""Inpainting (photo/inpaint.py): known-region bit-identity, exact fills, RePaint's schedule, crop & stitch."""
import math

import pytest
import torch

from noisekit.models.analytic import GaussianDenoiser
from noisekit.samplers import SAMPLERS, Sampler, sample
from noisekit.photo.inpaint import (ANNEAL_FLOOR, COARSE_SIGMA, PATCH_GRID, TAIL_SIGMA, TAIL_STEPS, InpaintOptions,
                                    gradient_energy, inpaint, level_scale, match_grain, region_boxes)
from noisekit.photo.masks import crop_box, feather_mask, grow_mask
from noisekit.photo.prefill import fill_hole
from noisekit.photo.tiling import tile_starts
from noisekit.samplers.repaint import renoise, repaint_sampler, repaint_steps


def photo(h=40, w=48, seed=0):
    return torch.rand(1, h, w, 3, generator=torch.Generator().manual_seed(seed))


class Recording(GaussianDenoiser):
    """Records the (height, width) and sigma of every level, and in ``tiles`` how many tiles it ran (consecutive
    calls with the same tile size and sigma are the batches of one level)."""

    def __init__(self, *args):
        super().__init__(*args)
        self.seen, self.tiles = [], []

    def __call__(self, x, sigma, **cond):
        level = (tuple(x.shape[-2:]), float(sigma.flatten()[0]))
        if not self.seen or self.seen[-1] != level:
            self.seen.append(level)
            self.tiles.append(0)
        self.tiles[-1] += x.shape[0]
        return super().__call__(x, sigma, **cond)


def hole(h=40, w=48):
    mask = torch.zeros(1, h, w)
    mask[0, 10:20, 15:30] = 1
    mask[0, 30, 5:40] = 0.5  # a soft scratch
    return mask


@pytest.mark.parametrize("method", ["patch", "anneal", "texture", "replace", "repaint"])
def test_known_region_is_bit_identical_and_seeds_decide_the_fill(method):
    image, mask = photo(), hole()
    run = lambda seed: inpaint(GaussianDenoiser(0.0, 0.5), image, mask,
                                 InpaintOptions(method, steps=6, seed=seed, jump_length=3))
    out = run(3)
    keep = mask[0] == 0
    assert torch.equal(out[0][keep], image[0][keep])
    assert not torch.equal(out[0][~keep], image[0][~keep])
    assert torch.equal(out, run(3)) and not torch.equal(out, run(4))


@pytest.mark.parametrize("method", ["anneal", "replace"])
def test_a_point_mass_model_fills_the_hole_exactly_and_soft_masks_blend(method):
    image, mask = photo(), hole()
    out = inpaint(GaussianDenoiser(0.4, 0.0), image, mask, InpaintOptions(method, steps=5))
    full, soft = mask[0] == 1, mask[0] == 0.5
    torch.testing.assert_close(out[0][full], torch.full_like(out[0][full], 0.7))  # (0.4 + 1) / 2
    torch.testing.assert_close(out[0][soft], 0.5 * image[0][soft] + 0.5 * 0.7)


def test_grow_widens_the_repainted_area():
    image = photo()
    out = inpaint(GaussianDenoiser(0.4, 0.0), image, hole(), InpaintOptions("replace", steps=4, grow=2))
    torch.testing.assert_close(out[0, 8:10, 16:29], torch.full((2, 13, 3), 0.7))  # grown, not in the mask


def test_only_the_bounding_box_plus_context_is_sampled():
    model = Recording(0.0, 0.5)
    mask = torch.zeros(1, 300, 400)
    mask[0, 140:150, 200:216] = 1
    inpaint(model, torch.rand(1, 300, 400, 3), mask, InpaintOptions("replace", steps=2, context=8))
    t, b, l, r = crop_box(mask, 8)
    assert (t, b, l, r) == (140 - 11, 150 + 11, 200 - 12, 216 + 12)  # context + a quarter of the box
    assert {shape for shape, _ in model.seen} == {(32, 40)}  # the crop alone, not 300 x 400


def test_repaint_walks_the_jump_schedule():
    """n = 7 steps, jumps of 3 sampled twice (the last, ending at sigma 0, once):
    [0:3] x2, [3:6] x2, [6:7] x1, re-noising from each jump's end back to its start."""
    calls, steps = [], []

    def base(model, x, sigmas, extra_args=None, callback=None, disable=None):
        calls.append((round(float(sigmas[0]), 6), round(float(sigmas[-1]), 6), extra_args["seed"]))
        for i in range(len(sigmas) - 1):
            callback({"i": i, "x": x, "sigma": sigmas[i], "sigma_hat": sigmas[i], "denoised": x})
        return x

    sigmas = torch.tensor([7.0, 6, 5, 4, 3, 2, 1, 0])
    repaint_sampler(base, 3, 2)(GaussianDenoiser(), torch.zeros(1, 1, 2, 2), sigmas, {"seed": 5},
                                callback=lambda info: steps.append(info["i"]))
    assert [c[:2] for c in calls] == [(7, 4), (7, 4), (4, 1), (4, 1), (1, 0)]
    assert len({c[2] for c in calls}) == 5  # every pass draws fresh noise
    assert steps == list(range(repaint_steps(7, 3, 2))) and repaint_steps(7, 3, 2) == 13


def test_renoise_is_the_forward_transition():
    z = torch.randn(10000, dtype=torch.float64)
    out = renoise(torch.ones_like(z), torch.tensor(0.3), torch.tensor(0.5), "ve", z)
    torch.testing.assert_close(out, 1 + 0.4 * z)  # sqrt(0.5^2 - 0.3^2) = 0.4
    flow = renoise(torch.zeros_like(z), torch.tensor(0.2), torch.tensor(0.6), "flow", z)
    torch.testing.assert_close(flow, (0.6**2 - (0.4 / 0.8 * 0.2) ** 2) ** 0.5 * z)


def test_registered_repaint_sampler_runs_through_sample_with_a_mask():
    assert "repaint" in SAMPLERS.names()
    latent = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    mask = torch.zeros(1, 1, 8, 8, dtype=torch.float64)
    mask[..., 2:6, 2:6] = 1
    out = sample(GaussianDenoiser(0.25, 0.0), torch.tensor([10.0, 3, 1, 0.3, 0], dtype=torch.float64),
                 Sampler("repaint", base="euler", jump_length=2, jump_n_sample=3), seed=0, latent=latent,
                 denoise_mask=mask)
    torch.testing.assert_close(out[..., 2:6, 2:6], torch.full((1, 3, 4, 4), 0.25, dtype=torch.float64))
    assert torch.equal(out[mask.expand_as(out) == 0], latent[mask.expand_as(latent) == 0])


def test_prefills_are_exact_on_what_they_preserve():
    y, x = torch.meshgrid(torch.linspace(0, 1, 30, dtype=torch.float64),
                          torch.linspace(0, 1, 36, dtype=torch.float64), indexing="ij")
    plane = (0.3 + 0.5 * x - 0.2 * y).expand(1, 3, 30, 36)  # harmonic and biharmonic
    mask = torch.zeros(1, 1, 30, 36, dtype=torch.float64)
    mask[..., 8:22, 10:30] = 1
    holed = torch.where(mask > 0, 0.0, plane)
    torch.testing.assert_close(fill_hole(holed, mask, "biharmonic"), plane, rtol=0, atol=1e-9)
    assert float((fill_hole(holed, mask, "diffuse") - plane).abs().max()) < 2e-3  # iterative solve
    mean = fill_hole(holed, mask, "mean")
    torch.testing.assert_close(mean[..., 15, 20], plane[mask.expand_as(plane) == 0].reshape(3, -1).mean(-1)[None])


def test_grow_and_feather():
    mask = torch.zeros(1, 9, 9)
    mask[0, 4, 4] = 1
    cross = grow_mask(mask, 1)
    assert cross.sum() == 5 and cross[0, 3, 4] == 1 and cross[0, 3, 3] == 0  # tapered corners
    assert torch.equal(grow_mask(cross, -1), mask)
    soft = feather_mask(cross, 2)
    assert torch.equal(soft[cross > 0], cross[cross > 0])  # the inside stays 1
    ring = (soft > 0) & (soft < 1)
    assert ring.any() and soft[0, 0, 0] == 0


@pytest.mark.parametrize("kwargs,match", [
    ({"mask": torch.ones(1, 4, 4)}, r"inpaint: mask .* does not match image"),
    ({"method": "blend"}, r"inpaint: method"),
    ({"prefill": "zeros"}, r"inpaint: prefill"),
    ({"strength": 0.0}, r"inpaint: strength"),
    ({"coarsest": 3}, r"inpaint: coarsest must be a power of 2"),
    ({"tile": 60}, r"tiling: tile \(60\) must be a multiple of 8"),
])
def test_bad_arguments_name_the_parameter(kwargs, match):
    args = {"image": photo(8, 8), "mask": torch.ones(1, 8, 8), **kwargs}
    with pytest.raises(ValueError, match=match):
        inpaint(GaussianDenoiser(), args.pop("image"), args.pop("mask"), InpaintOptions(**args))


@pytest.mark.parametrize("form", ["ve", "flow"])
@pytest.mark.parametrize("draws", [1, 4])
def test_annealed_mean_has_the_closed_form_moments_on_gaussian_data(form, draws):
    # Data N(mu, v): D(a e + s z) = mu + c (e - mu) + c s / a z with c = a^2 v / (a^2 v + s^2), so the
    # estimate after each level is Gaussian with a mean and variance known level by level.
    mu, v, start = 0.3, 0.25, 1.5
    model = GaussianDenoiser(mu, v**0.5, noise_form=form)
    sigmas = torch.tensor([0.8, 0.5, 0.2, 0.1, 0], dtype=torch.float64)
    a = lambda s: 1 - s if form == "flow" else 1.0
    c = lambda s: a(s) ** 2 * v / (a(s) ** 2 * v + s**2)
    s0 = float(sigmas[0])
    mean, var = mu + a(s0) * v / (a(s0) ** 2 * v + s0**2) * (start - a(s0) * mu), 0.0
    for s in sigmas[1:-1].tolist():
        mean, var = mu + c(s) * (mean - mu), c(s) ** 2 * var + (c(s) * s / a(s)) ** 2 / draws
    x = torch.full((1, 1, 128, 128), start, dtype=torch.float64)
    out = Sampler("annealed_mean", draws=draws)(model, x, sigmas, extra_args={"seed": 1}, disable=True)
    assert model.calls == 1 + 3 * draws
    assert abs(float(out.mean()) - mean) < 5 * (var / out.numel()) ** 0.5
    assert float(out.var()) == pytest.approx(var, rel=0.05)


def test_anneal_walks_a_geometric_ladder_from_the_strength_level_to_the_floor():
    """Level k has sigma_k on the ladder; a level run on a grid f times coarser sees f x f means (noise
    sigma_k / f) on an f times smaller box."""
    model = Recording(0.0, 0.5)
    inpaint(model, photo(), hole(), InpaintOptions("anneal", steps=5, strength=0.6, coarsest=1))
    full = model.seen[0][0]
    seen = [sigma for _, sigma in model.seen]
    start = model.sigma_max**0.6 * model.sigma_min**0.4
    ladder = [start * (ANNEAL_FLOOR / start) ** (k / 4) for k in range(5)]
    assert seen == pytest.approx(ladder) and {shape for shape, _ in model.seen} == {full}
    model = Recording(0.0, 0.5)
    inpaint(model, photo(), hole(), InpaintOptions("anneal", steps=5, strength=0.6))  # coarse levels on: 1.15, 0.42 on 4x
    factors = [level_scale(s, 4) for s in ladder]
    assert factors == [4, 4, 1, 1, 1]  # 0.42 / 4 >= COARSE_SIGMA = 0.1 > 0.15 / 2
    coarse = lambda n, f: 8 * math.ceil(n / f / 8)  # n / f pixels, rounded up, padded to the multiple 8
    assert [shape for shape, _ in model.seen] == [tuple(coarse(n, f) for n in full) for f in factors]
    assert [sigma * f for (_, sigma), f in zip(model.seen, factors)] == pytest.approx(ladder)


def test_patch_anneals_where_the_hole_is_deep_on_grids_at_least_patch_grid_coarser_then_copies_texture():
    """"patch": the same ladder as "anneal", every level at least PATCH_GRID x coarser (its fine levels at 4x), run
    on the box only (the 1-pixel scratch is thin: the prefill fills it), then texture_fill with the enlarged fill."""
    anneal, patch = Recording(0.0, 0.5), Recording(0.0, 0.5)
    image, mask = photo(), hole()
    box = torch.where(mask == 1, mask, 0)
    inpaint(anneal, image, box, InpaintOptions("anneal", steps=5, strength=0.6))
    out = inpaint(patch, image, mask, InpaintOptions("patch", steps=5, strength=0.6))
    factors = [max(level_scale(sigma * f, 4), PATCH_GRID) for (_, sigma), f in zip(anneal.seen, [4, 4, 1, 1, 1])]
    assert factors == [4] * 5
    coarse = lambda n, f: 8 * math.ceil(n / f / 8)
    full = anneal.seen[-1][0]
    assert [shape for shape, _ in patch.seen] == [tuple(coarse(n, f) for n in full) for f in factors]
    keep, scratch = mask[0] == 0, mask[0] == 0.5
    assert torch.equal(out[0][keep], image[0][keep]) and not torch.allclose(out[0][~keep], image[0][~keep])
    prefilled = fill_hole(image.movedim(-1, 1), mask[:, None], "biharmonic").movedim(1, -1)
    torch.testing.assert_close(out[0][scratch], (image + 0.5 * (prefilled - image))[0][scratch])


def test_a_level_runs_on_the_coarsest_grid_where_its_noise_is_still_coarse_sigma():
    assert [level_scale(COARSE_SIGMA * r, 4) for r in (0.5, 1, 1.9, 2, 3.9, 4, 100)] == [1, 1, 1, 2, 2, 4, 4]
    assert level_scale(100 * COARSE_SIGMA, 1) == 1 and level_scale(100 * COARSE_SIGMA, 2) == 2


def test_each_connected_region_gets_its_own_box_and_touching_boxes_merge():
    mask = torch.zeros(1, 300, 400)
    mask[0, 20:30, 20:36] = 1
    mask[0, 250:260, 300:316] = 1
    model = Recording(0.0, 0.5)
    inpaint(model, torch.rand(1, 300, 400, 3), mask, InpaintOptions("replace", steps=2, context=8))
    boxes = region_boxes(mask, 8)
    assert boxes == [(20 - 11, 30 + 11, 20 - 12, 36 + 12), (250 - 11, 260 + 11, 300 - 12, 316 + 12)]
    assert [shape for shape, _ in model.seen] == [(32, 40)] * 2 + [(32, 40)] * 2  # two small crops, 2 steps each
    mask[0, 45:55, 45:55] = 1  # a third region, apart from the first, but their boxes overlap: one box holds both
    assert region_boxes(mask, 8) == [(20 - 11, 55 + 11, 20 - 12, 55 + 11), boxes[1]]


def test_inside_a_box_only_tiles_that_hold_the_hole_are_computed():
    """An L-shaped stroke: one region whose box is 128 x 128, but it crosses only 3 of 9 tiles, run as one batch."""
    model = Recording(0.0, 0.5)
    mask = torch.zeros(1, 128, 128)
    mask[0, 4:10, 4:60] = 1
    mask[0, 4:60, 4:10] = 1
    out = inpaint(model, photo(128, 128), mask, InpaintOptions("anneal", steps=2, context=64, tile=64, coarsest=1))
    assert [shape for shape, _ in model.seen] == [(64, 64)] * 2 and model.tiles == [3, 3]
    assert torch.equal(out[0][mask[0] == 0], photo(128, 128)[0][mask[0] == 0])


def test_a_long_thin_stroke_computes_only_the_tiles_along_it():
    """A diagonal stroke 512 pixels long (one region, its box the whole photo): of the tiles of 64 (stride 56)
    only those whose rows and columns both meet the stroke's span are computed, at every level; the same
    stroke on a photo 4x larger in area costs about the same (25-30 tiles, of grids of 81 and 361)."""
    for side in (512, 1024):
        model = Recording(0.0, 0.5)
        mask = torch.zeros(1, side, side)
        mask[0, torch.arange(512), torch.arange(512)] = 1
        out = inpaint(model, photo(side, side), mask, InpaintOptions("replace", steps=2, context=0, tile=64))
        starts = [a for a in tile_starts(side, 64, 8) if a < 512]
        meets = sum(abs(a - b) < 64 for a in starts for b in starts)  # tiles [a, a+64) x [b, b+64) on the diagonal
        grid = len(tile_starts(side, 64, 8)) ** 2
        assert model.tiles[0] == model.tiles[1] and meets <= model.tiles[0] <= meets + 2 and model.tiles[0] <= grid / 3
        assert torch.equal(out[0][mask[0] == 0], photo(side, side)[0][mask[0] == 0])


def test_texture_tail_samples_the_posterior_from_the_annealed_fill():
    """Gaussian data N(0, v) and an exact (pixel-wise) denoiser: the tail noises the annealed fill (variance a)
    to s = TAIL_SIGMA and samples back, so the fill's variance becomes that of an exact posterior sample,
    c^2 (a + s^2) + v s^2 / (v + s^2) with c = v / (v + s^2), and costs TAIL_STEPS model calls more."""
    image, mask = torch.full((1, 96, 96, 3), 0.5), torch.zeros(1, 96, 96)
    mask[0, 8:88, 8:88] = 1
    hole = mask[0] == 1
    fills, calls = {}, {}
    for method in ("anneal", "texture"):
        model = Recording(0.0, 0.5)
        fills[method] = inpaint(model, image, mask, InpaintOptions(method, steps=8, prefill="mean", coarsest=1))[0][hole] * 2 - 1
        calls[method] = len(model.seen)
    assert calls["texture"] == calls["anneal"] + TAIL_STEPS
    v, s, a = 0.25, TAIL_SIGMA, float(fills["anneal"].var())
    c = v / (v + s**2)
    assert float(fills["texture"].var()) == pytest.approx(c**2 * (a + s**2) + v * s**2 / (v + s**2), rel=0.03)
    assert float(fills["texture"].var()) > a


def test_grain_brings_the_holes_gradient_energy_to_the_surroundings():
    """Known pixels: white noise of std 0.1 (gradient energy 4 * 0.01 per pixel); a flat hole gets white noise
    of that variance; a hole already as grainy gets nothing."""
    g = torch.Generator().manual_seed(0)
    x = 0.1 * torch.randn(1, 3, 200, 200, generator=g, dtype=torch.float64)
    m = torch.zeros(1, 1, 200, 200, dtype=torch.float64)
    m[..., 50:150, 50:150] = 1
    hole = (m == 1).to(x)
    flat = x * (1 - m)
    out = match_grain(flat, m, torch.randn(x.shape, generator=g, dtype=torch.float64))
    torch.testing.assert_close(gradient_energy(out, hole), gradient_energy(x, (m == 0).to(x)), rtol=0.03, atol=0)
    assert torch.equal(out[m.expand_as(x) == 0], flat[m.expand_as(x) == 0])
    grainy = x * (1 + m)  # the hole twice as grainy as its surroundings
    assert torch.equal(match_grain(grainy, m, torch.randn(x.shape, generator=g, dtype=torch.float64)), grainy)
