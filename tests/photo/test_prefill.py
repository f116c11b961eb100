"""Prefills (photo/prefill.py): the biharmonic fill stays inside the colours around the hole."""
import torch

from noisekit.photo.prefill import biharmonic_fill, fill_hole, local_range


def sunset(h=96, w=128, horizon=60):
    """A sky brightening towards a dark horizon (model space, [-1, 1]): a strong edge across the image."""
    y = torch.linspace(0, 1, h, dtype=torch.float64)[:, None].expand(h, w)
    x = torch.linspace(0, 1, w, dtype=torch.float64)[None, :].expand(h, w)
    sky = torch.stack([0.75 + 0.2 * y, 0.45 + 0.3 * y, 0.25 + 0.15 * y])
    land = torch.stack([0.12 + 0.05 * x, 0.08 + 0.03 * x, 0.06 + 0 * x])
    return (torch.where(torch.arange(h)[:, None] < horizon, sky, land) * 2 - 1)[None]


def hole_psnr(fill, image, mask):
    inside = mask.expand_as(image) > 0
    return float(10 * torch.log10(4 / ((fill[inside] - image[inside]) ** 2).mean()))


def test_biharmonic_fill_beside_an_edge_stays_in_the_surrounding_range():
    """A box of sky whose bottom is one row above the dark horizon: the plain biharmonic solution
    extrapolates the edge's gradient into a glowing blob (issue 17's "fake sun"); the prefill stays
    within the range of the known colours around the hole and is as good as the harmonic fill."""
    image = sunset()
    mask = torch.zeros(1, 1, *image.shape[-2:], dtype=torch.float64)
    mask[..., 20:59, 40:90] = 1  # row 59 is known sky, row 60 the land
    holed = torch.where(mask > 0, 0.0, image)
    around = (torch.nn.functional.max_pool2d(mask, 9, 1, 4) > 0) & (mask == 0)  # known pixels within 4 of the hole
    known_colours = image[0][:, around[0, 0]]
    low, high = known_colours.amin(1), known_colours.amax(1)

    plain = biharmonic_fill(holed, (mask == 0).to(holed))
    assert float(plain[0, 0][mask[0, 0] > 0].max()) > float(high[0]) + 1  # the defect this guards against

    fill = fill_hole(holed, mask, "biharmonic")
    inside = fill[0][:, mask[0, 0] > 0]
    assert (inside.amin(1) >= low - 1e-9).all() and (inside.amax(1) <= high + 1e-9).all()
    assert (fill[mask.expand_as(fill) == 0] == image[mask.expand_as(image) == 0]).all()  # known pixels untouched
    diffuse = fill_hole(holed, mask, "diffuse")
    assert hole_psnr(fill, image, mask) >= hole_psnr(diffuse, image, mask) - 0.5
    assert hole_psnr(plain, image, mask) < hole_psnr(diffuse, image, mask) - 20


def test_biharmonic_fill_is_unchanged_where_it_does_not_overshoot():
    """Away from the edge (the hole ends three rows above the horizon) the biharmonic fill continues the
    sky's gradient exactly; the range clamp leaves it alone."""
    image = sunset()
    mask = torch.zeros(1, 1, *image.shape[-2:], dtype=torch.float64)
    mask[..., 20:57, 40:90] = 1
    holed = torch.where(mask > 0, 0.0, image)
    plain = biharmonic_fill(holed, (mask == 0).to(holed))
    assert torch.equal(fill_hole(holed, mask, "biharmonic"), plain)


def test_local_range_brackets_the_known_pixels_and_is_ordered():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 40, 50, generator=g, dtype=torch.float64)
    known = torch.ones(2, 1, 40, 50, dtype=torch.float64)
    known[..., 10:30, 12:40] = 0
    low, high = local_range(x, known)
    assert (low <= high).all()
    k = known.expand_as(x) > 0
    assert (low[k] <= x[k]).all() and (x[k] <= high[k]).all()
    assert float(high[~k].max()) <= float(x[k].max()) and float(low[~k].min()) >= float(x[k].min())


def test_the_biharmonic_system_on_the_hole_alone_is_the_whole_grids():
    """Built on the hole and the 2 pixels around it, the fill equals the solve over the whole grid (its
    Laplacian with reflecting borders squared, restricted to the hole), a hole at the border included."""
    import numpy as np
    from scipy.sparse.linalg import spsolve

    from noisekit.photo.prefill import laplacian_rows

    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, 2, 24, 30, generator=g, dtype=torch.float64)
    unknown = torch.zeros(24, 30, dtype=torch.bool)
    unknown[3:9, 4:12] = unknown[15:24, 20:26] = True  # the second touches the bottom border
    fill = biharmonic_fill(x, (~unknown).to(x)[None, None])
    laplacian = laplacian_rows(np.ones((24, 30), dtype=bool))
    bilaplacian = (laplacian @ laplacian).tocsr()
    hole = unknown.flatten().numpy()
    for c in range(2):
        values = x[0, c].flatten().numpy().copy()
        values[hole] = spsolve(bilaplacian[hole][:, hole].tocsc(), -(bilaplacian[hole][:, ~hole] @ values[~hole]))
        torch.testing.assert_close(fill[0, c].flatten(), torch.from_numpy(values), rtol=0, atol=1e-9)
    assert torch.equal(fill[0][:, ~unknown], x[0][:, ~unknown])
