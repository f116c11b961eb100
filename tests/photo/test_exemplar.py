"""The exemplar texture step (photo/exemplar.py): a periodic texture is continued exactly into a hole, a soft mask
blends the same fill, the guide sets the hole's local colour, and the cost follows the hole's pixels."""
import torch

from noisekit.photo.exemplar import blur, exemplar_fill, keep_low


def periodic(h=64, w=64, period=6, seed=0):
    """A random period x period colour tile repeated over [1, 3, h, w], on a smooth ramp."""
    tile = torch.rand(3, period, period, generator=torch.Generator().manual_seed(seed))
    pattern = tile.repeat(1, h // period + 1, w // period + 1)[:, :h, :w]
    ramp = torch.linspace(0, 0.3, w).expand(3, h, w)
    return (0.6 * pattern + ramp)[None]


def box(h=64, w=64):
    m = torch.zeros(1, 1, h, w)
    m[..., 24:40, 20:44] = 1
    return m


def test_a_periodic_texture_is_continued_into_the_hole():
    x, m = periodic(), box()
    guide = torch.where(m > 0, blur(x[0], 4.0)[None], x)  # the right low frequencies, no texture
    damaged = torch.where(m > 0, torch.zeros_like(x), x)
    out = exemplar_fill(damaged, m, guide)
    hole = m[0, 0] > 0
    error = (out - x)[0][:, hole].abs().mean()
    assert error < 0.1 * (guide - x)[0][:, hole].abs().mean()  # the smooth guide's error, cut tenfold
    assert torch.equal(out[0][:, ~hole], damaged[0][:, ~hole])


def test_a_soft_mask_blends_the_same_fill_and_a_seed_decides_it():
    x, m = periodic(seed=1), box()
    guide = torch.where(m > 0, torch.full_like(x, 0.5), x)
    soft = m * torch.linspace(0.2, 1, 64)  # the same hole (m > 0), softer to the left
    hard = exemplar_fill(x, m, guide, seed=3)
    assert torch.allclose(exemplar_fill(x, soft, guide, seed=3), x + soft * (hard - x), atol=1e-6)
    assert torch.equal(hard, exemplar_fill(x, m, guide, seed=3))
    assert not torch.equal(hard, exemplar_fill(x, m, guide, seed=4))


def test_keep_low_gives_the_hole_the_guides_local_colour():
    hole = box()[0, 0] > 0
    fill = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0))
    guide = torch.tensor([0.2, 0.5, 0.7])[:, None, None].expand(3, 64, 64)
    fill_flat = torch.where(hole, torch.tensor([0.9, 0.1, 0.3])[:, None, None], fill)
    assert torch.allclose(keep_low(fill_flat, guide, hole)[:, hole], guide[:, hole], atol=1e-5)  # constants: exact
    out = keep_low(fill, guide, hole)
    assert torch.equal(out[:, ~hole], fill[:, ~hole])


def test_nothing_to_fill_returns_the_input_and_nothing_to_fill_from_the_guide():
    x = periodic()
    guide = torch.full_like(x, 0.5)
    assert torch.equal(exemplar_fill(x, torch.zeros(1, 1, 64, 64), guide), x)
    assert torch.allclose(exemplar_fill(x, torch.ones(1, 1, 64, 64), guide), guide)


def test_a_photo_smaller_than_the_blurs_is_filled():
    x = periodic(6, 5)
    m = torch.zeros(1, 1, 6, 5)
    m[..., 2:4, 1:3] = 1
    out = exemplar_fill(x, m, x)
    assert torch.isfinite(out).all() and torch.equal(out[m.expand_as(x) == 0], x[m.expand_as(x) == 0])
