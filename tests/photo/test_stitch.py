"""Crop & stitch geometry on plain tensors: boxes, working sizes, padding, latent masks, the blend."""
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from noisekit.models.space import PixelVAE
from noisekit.photo.stitch import fit_box, from_work, latent_mask, stitch, to_work, work_size


@st.composite
def boxes(draw):
    h, w = draw(st.integers(1, 90)), draw(st.integers(1, 90))
    t = draw(st.integers(0, h - 1))
    l = draw(st.integers(0, w - 1))
    return (h, w), (t, draw(st.integers(t + 1, h)), l, draw(st.integers(l + 1, w))), draw(st.sampled_from([1, 8, 64]))


@settings(max_examples=300, deadline=None)
@given(boxes())
def test_fit_box_contains_the_box_stays_inside_and_is_a_multiple_where_it_can_be(case):
    (h, w), box, multiple = case
    t, b, l, r = fit_box(box, (h, w), multiple)
    assert 0 <= t <= box[0] and box[1] <= b <= h and 0 <= l <= box[2] and box[3] <= r <= w
    for lo, hi, limit, inner in ((t, b, h, box[1] - box[0]), (l, r, w, box[3] - box[2])):
        wanted = -(-inner // multiple) * multiple
        assert hi - lo == min(wanted, limit)  # the next multiple, or the whole side when that is too long


def test_work_size_scales_the_longer_side():
    assert work_size(37, 50, 0) == (37, 50)
    assert work_size(37, 50, 1024) == (758, 1024)
    assert work_size(300, 100, 150) == (150, 50)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.sampled_from([1, 8, 16]))
def test_to_work_pads_to_the_multiple_and_from_work_gives_the_pixels_back(h, w, multiple):
    image = torch.rand(2, h, w, 3)
    work = to_work(image, (h, w), multiple)
    assert work.shape[1] % multiple == 0 and work.shape[2] % multiple == 0
    assert work.shape[1] - h < multiple and work.shape[2] - w < multiple
    assert torch.equal(from_work(work, (h, w), (5, 5 + h, 3, 3 + w)), image)  # no resampling at native size
    mask = to_work(torch.ones(1, h, w, 1), (h, w), multiple, pad="zeros")
    assert mask.sum() == h * w  # a mask's padding is 0: nothing there is repainted


def test_resized_work_comes_back_at_the_box_size():
    image = torch.rand(1, 30, 20, 3)
    work = to_work(image, work_size(30, 20, 64), 8)
    assert work.shape == (1, 64, 48, 3)  # 64 x 43 padded to 64 x 48
    back = from_work(work, work_size(30, 20, 64), (0, 30, 0, 20))
    assert back.shape == image.shape and (back - image).abs().mean() < 0.2


def test_latent_mask_marks_every_latent_pixel_that_touches_the_hole():
    mask = torch.zeros(1, 16, 24)
    mask[0, 5, 9] = 0.3  # one pixel, in the 8 x 8 block (0, 1)
    m = latent_mask(mask, (2, 3))
    assert m.shape == (1, 1, 2, 3)
    assert torch.equal(m[0, 0], torch.tensor([[0.0, 0.3, 0.0], [0.0, 0.0, 0.0]]))


@settings(max_examples=40, deadline=None)
@given(boxes(), st.integers(0, 2**31 - 1))
def test_stitch_touches_nothing_outside_the_box_or_the_mask(case, seed):
    (h, w), (t, b, l, r), _ = case
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(2, h, w, 3, generator=g)
    mask = torch.zeros(2, h, w)
    soft = torch.rand(2, b - t, r - l, generator=g)
    mask[:, t:b, l:r] = torch.where(soft < 0.3, torch.zeros(()), torch.where(soft > 0.7, torch.ones(()), soft))
    patch = torch.rand(2, b - t, r - l, 3, generator=g)
    out = stitch(image, patch, mask, (t, b, l, r))
    keep = (mask == 0)[..., None].expand_as(image)
    assert torch.equal(out[keep], image[keep])  # bit for bit, including everything outside the box
    m = mask[:, t:b, l:r, None]
    torch.testing.assert_close(out[:, t:b, l:r], torch.where(m == 0, image[:, t:b, l:r],
                                                             m * patch + (1 - m) * image[:, t:b, l:r]))


def test_pixel_vae_is_the_model_space_map():
    vae = PixelVAE()
    image = torch.rand(2, 5, 7, 4)  # alpha is dropped, as ComfyUI's VAEEncode does
    latent = vae.encode(image)
    assert latent.shape == (2, 3, 5, 7) and torch.equal(latent, image[..., :3].movedim(-1, 1) * 2 - 1)
    assert (vae.decode(latent) - image[..., :3]).abs().max() < 1e-7
    assert torch.equal(vae.decode(torch.full((1, 3, 2, 2), 3.0)), torch.ones(1, 2, 2, 3))  # clipped to [0, 1]
    assert (vae.spacial_compression_encode(), vae.downscale_ratio, vae.latent_channels) == (1, 1, 3)
