"""The exemplar texture step (photo/exemplar.py): a periodic texture is continued exactly into a wide hole, a thin
hole takes the prefill alone, the smooth fill mixes the guide and the prefill by the hole's depth, a soft mask
blends the same fill, and the depth is half the hole's width."""
import torch

from noisekit.photo.exemplar import GUIDE_SHARE, GUIDE_RAMP, THIN, blur, depth, guided, keep_low, ramp, texture_fill


def periodic(h=64, w=64, period=6, seed=0):
    """A random period x period colour tile repeated over [1, 3, h, w], on a smooth ramp."""
    tile = torch.rand(3, period, period, generator=torch.Generator().manual_seed(seed))
    pattern = tile.repeat(1, h // period + 1, w // period + 1)[:, :h, :w]
    ramp = torch.linspace(0, 0.3, w).expand(3, h, w)
    return (0.6 * pattern + ramp)[None]


def box(h=64, w=64, t=20, b=44, l=16, r=48):
    m = torch.zeros(1, 1, h, w)
    m[..., t:b, l:r] = 1
    return m


def test_depth_is_half_the_width_of_a_band_and_thin_below_a_scratch():
    for width in (2, 5, 8):
        hole = box(t=20, b=20 + width)[0, 0] > 0
        d = depth(hole)
        assert torch.allclose(d[hole], torch.full_like(d[hole], (width + 1) // 2))  # the band's middle row, seen
        assert torch.equal(d[~hole], torch.zeros_like(d[~hole]))                     # from every row of it
    assert (depth(box(t=20, b=22)[0, 0] > 0) <= THIN).all()  # a 2-pixel scratch is thin: no model, no texture
    assert torch.equal(guided(box(t=20, b=22)), torch.zeros(1, 1, 64, 64))
    wide = box()
    assert torch.equal(guided(wide), wide)
    assert ramp(torch.tensor([0.0, THIN, THIN + GUIDE_RAMP / 2, 99.0]), GUIDE_RAMP, GUIDE_SHARE).tolist() == \
        [0.0, 0.0, GUIDE_SHARE / 2, GUIDE_SHARE]


def test_a_periodic_texture_is_continued_into_a_wide_hole():
    x, m = periodic(), box()
    smooth = torch.where(m > 0, blur(x[0], 4.0)[None], x)  # the right low frequencies, no texture
    damaged = torch.where(m > 0, torch.zeros_like(x), x)
    out = texture_fill(damaged, m, smooth, smooth)
    core = depth(m[0, 0] > 0) >= THIN + 5  # the texture's full share
    error = (out - x)[0][:, core].abs().mean()
    assert error < 0.1 * (smooth - x)[0][:, core].abs().mean()  # the smooth fill's error, cut tenfold
    assert torch.equal(out[0][:, m[0, 0] == 0], damaged[0][:, m[0, 0] == 0])


def test_a_thin_hole_takes_the_prefill_and_a_wide_one_the_mixed_colour():
    x = periodic(seed=2)
    scratch = box(t=30, b=32, l=4, r=60)
    prefilled = torch.where(scratch > 0, torch.full_like(x, 0.3), x)
    guide = torch.where(scratch > 0, torch.full_like(x, 0.9), x)
    assert torch.equal(texture_fill(x, scratch, guide, prefilled), prefilled)
    m = box()
    a, b = 0.2, 0.6
    out = texture_fill(x, m, torch.where(m > 0, torch.full_like(x, a), x), torch.where(m > 0, torch.full_like(x, b), x))
    core = depth(m[0, 0] > 0) >= THIN + GUIDE_RAMP
    mix = GUIDE_SHARE * a + (1 - GUIDE_SHARE) * b  # the hole's local mean colour is the smooth fill's
    assert abs(out[0][:, core].mean() - mix) < 0.02 and out[0][:, core].std() > 0.1  # with the copied texture


def test_a_soft_mask_blends_the_same_fill_and_a_seed_decides_it():
    x, m = periodic(seed=1), box()
    guide = torch.where(m > 0, torch.full_like(x, 0.5), x)
    soft = m * torch.linspace(0.2, 1, 64)  # the same hole (m > 0), softer to the left
    hard = texture_fill(x, m, guide, guide, seed=3)
    assert torch.allclose(texture_fill(x, soft, guide, guide, seed=3), x + soft * (hard - x), atol=1e-6)
    assert torch.equal(hard, texture_fill(x, m, guide, guide, seed=3))
    assert not torch.equal(hard, texture_fill(x, m, guide, guide, seed=4))


def test_keep_low_gives_the_hole_the_guides_local_colour():
    hole = box()[0, 0] > 0
    fill = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0))
    guide = torch.tensor([0.2, 0.5, 0.7])[:, None, None].expand(3, 64, 64)
    fill_flat = torch.where(hole, torch.tensor([0.9, 0.1, 0.3])[:, None, None], fill)
    assert torch.allclose(keep_low(fill_flat, guide, hole)[:, hole], guide[:, hole], atol=1e-5)  # constants: exact
    out = keep_low(fill, guide, hole)
    assert torch.equal(out[:, ~hole], fill[:, ~hole])


def test_nothing_to_fill_returns_the_input_and_nothing_to_fill_from_the_smooth_fill():
    x = periodic()
    guide, prefilled = torch.full_like(x, 0.5), torch.full_like(x, 0.1)
    assert torch.equal(texture_fill(x, torch.zeros(1, 1, 64, 64), guide, prefilled), x)
    whole = texture_fill(x, torch.ones(1, 1, 64, 64), guide, prefilled)
    assert whole.min() >= 0.1 and whole.max() <= 0.5 + 1e-6  # no known pixel to copy: between the two fills


def test_a_photo_smaller_than_the_blurs_is_filled():
    x = periodic(12, 10)
    m = torch.zeros(1, 1, 12, 10)
    m[..., 2:10, 1:9] = 1
    out = texture_fill(x, m, x, x)
    assert torch.isfinite(out).all() and torch.equal(out[m.expand_as(x) == 0], x[m.expand_as(x) == 0])
