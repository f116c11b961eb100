"""Seeded noise: per-item generators, device/batch independence, the Brownian tree, forward noise."""
import math

import torch

from noisekit.samplers import BrownianTreeNoiseSampler, NoiseSampler, add_noise, unit_noise
from noisekit.schedules.tools import img2img_sigmas
from noisekit.schedules import get_sigmas


def test_item_i_uses_seed_plus_i():
    batch = unit_noise((3, 2, 5), seed=7)
    for i in range(3):
        assert torch.equal(batch[i], unit_noise((1, 2, 5), seed=7 + i)[0])
    assert torch.equal(batch[0], torch.randn(2, 5, generator=torch.Generator().manual_seed(7)))


def test_step_noise_per_item_and_dtype():
    x = torch.zeros(4, 3, dtype=torch.float64)
    a, b = NoiseSampler(x, 5), NoiseSampler(x[:1], 7)
    first, single = a(1.0, 0.5), b(1.0, 0.5)
    assert first.dtype == torch.float64 and first.shape == x.shape
    assert torch.equal(first[2], single[0])
    assert not torch.equal(a(0.5, 0.1), first)  # a new draw each step


def test_brownian_tree_increments_are_consistent_and_unit():
    x = torch.zeros(2, 4000, dtype=torch.float64)
    tree = BrownianTreeNoiseSampler(x, 0.1, 10.0, seed=3)
    # W(5) - W(1) = (W(5) - W(2)) + (W(2) - W(1)), each returned scaled to unit variance
    whole = tree(5.0, 1.0) * math.sqrt(4.0)
    parts = tree(5.0, 2.0) * math.sqrt(3.0) + tree(2.0, 1.0) * math.sqrt(1.0)
    torch.testing.assert_close(whole, parts, rtol=0, atol=1e-9)
    z = tree(8.0, 7.5)
    assert abs(float(z.std()) - 1) < 0.05 and abs(float(z.mean())) < 0.05
    other = BrownianTreeNoiseSampler(x[:1], 0.1, 10.0, seed=4)
    assert torch.equal(other(5.0, 1.0)[0], tree(5.0, 1.0)[1])  # item 1 of seed 3 = item 0 of seed 4


def test_forward_noise_forms():
    x0, eps = torch.full((1, 3), 0.5, dtype=torch.float64), torch.ones(1, 3, dtype=torch.float64)
    torch.testing.assert_close(add_noise(x0, eps, 2.0, "ve"), x0 + 2.0)
    ab = 1 / (1 + 4.0)
    torch.testing.assert_close(add_noise(x0, eps, 2.0, "vp"), math.sqrt(ab) * x0 + math.sqrt(1 - ab) * eps)
    torch.testing.assert_close(add_noise(x0, eps, 0.25, "flow"), 0.75 * x0 + 0.25 * eps)
    # VP is the VE state scaled by 1 / sqrt(1 + sigma^2)
    torch.testing.assert_close(add_noise(x0, eps, 2.0, "vp"), add_noise(x0, eps, 2.0, "ve") / math.sqrt(5.0))


def test_img2img_keeps_the_tail_of_a_longer_schedule():
    full = lambda n: get_sigmas("karras", n, sigma_min=0.03, sigma_max=14.6)
    sub = img2img_sigmas(full, 10, 0.5)  # ComfyUI: int(10 / 0.5) = 20 steps, keep the last 11 sigmas
    assert torch.equal(sub, full(20)[-11:])
    assert len(img2img_sigmas(full, 10, 0.3)) == 11 and torch.equal(img2img_sigmas(full, 10, 1.0), full(10))
    assert len(img2img_sigmas(full, 10, 0.0)) == 0
