"""Prefills: a first guess of a hole's content, from the known pixels around it.

"mean" is the known pixels' mean colour; "diffuse" solves Laplace's equation (harmonic: the
smoothest fill); "biharmonic" solves Laplacian^2 u = 0, which also continues gradients. A
harmonic fill stays within its boundary's values (the maximum principle); a biharmonic one does
not: beside a steep edge it extrapolates the edge's gradient into the hole (a sunset sky one row
above the dark horizon came out as a glowing white blob, 7x the sky's brightness). So the
biharmonic fill is clamped, pixel by pixel, to the local range of the known colours around the
hole, carried into the hole harmonically (``local_range``); where it does not overshoot it is
unchanged.
The inpaint pipeline noises the prefill to a level set by its strength, so the prefill sets the
fill's layout and colours.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

PREFILLS = ("none", "mean", "diffuse", "biharmonic")


def diffuse_fill(x: torch.Tensor, known: torch.Tensor, iterations: int = 200) -> torch.Tensor:
    """Harmonic fill of the unknown region (Laplace's equation, known pixels fixed),
    solved coarse-to-fine so big holes converge in few Jacobi sweeps."""
    if min(x.shape[-2:]) > 16:
        coarse_x = F.avg_pool2d(x * known, 2, ceil_mode=True)
        coarse_k = F.avg_pool2d(known, 2, ceil_mode=True)
        coarse = diffuse_fill(coarse_x / coarse_k.clamp(min=1e-6), (coarse_k > 0).to(x), iterations)
        x = torch.where(known > 0, x, F.interpolate(coarse, size=x.shape[-2:], mode="bilinear"))
    kernel = torch.tensor([[0, 0.25, 0], [0.25, 0, 0.25], [0, 0.25, 0]], dtype=x.dtype, device=x.device)
    kernel = kernel.expand(x.shape[1], 1, 3, 3)
    for _ in range(iterations if min(x.shape[-2:]) <= 16 else 20):
        neighbours = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=x.shape[1])
        x = torch.where(known > 0, x, neighbours)
    return x


def laplacian_rows(region: np.ndarray):
    """The 5-point Laplacian of an h x w grid with reflecting (Neumann) borders, on the pixels of ``region``
    [h, w] (bool) only: rows and columns in ``region``'s flat order; neighbours outside it are left out, so a
    row is the grid's own only where all its neighbours are in ``region``."""
    import scipy.sparse as sp

    h, w = region.shape
    ys, xs = np.nonzero(region)
    position = np.full(h * w, -1)
    position[ys * w + xs] = np.arange(len(ys))
    rows, cols, degree = [], [], np.zeros(len(ys))
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)  # off the grid: no neighbour (Neumann)
        degree += inside
        j = position[ny[inside] * w + nx[inside]]
        rows.append(np.nonzero(inside)[0][j >= 0])
        cols.append(j[j >= 0])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(ys),) * 2) - sp.diags(degree)


def polyharmonic_fill(x: torch.Tensor, known: torch.Tensor, order: int) -> torch.Tensor:
    """Fill the unknown pixels (known [.., H, W] == 0, the first map's) with the solution of Laplacian^order
    u = 0, the known pixels as boundary: harmonic (order 1, the smoothest, within its boundary's values) or
    biharmonic (2, continuing gradients). Laplacian^order reaches ``order`` pixels, so the system is built on
    the hole and the ``order`` pixels around it only: its cost follows the hole, not the photo."""
    from scipy import ndimage
    from scipy.sparse.linalg import splu

    unknown = (known.reshape(-1, *known.shape[-2:])[0] == 0).cpu().numpy()
    if not unknown.any() or unknown.all():  # nothing to fill, or no boundary: constants solve it (singular)
        return x
    near = ndimage.binary_dilation(unknown, iterations=order)  # the hole and the pixels its operator reaches
    laplacian = laplacian_rows(near)
    operator = laplacian if order == 1 else (laplacian @ laplacian).tocsr()
    hole = unknown[near]
    solver = splu(operator[hole][:, hole].tocsc())
    coupling = operator[hole][:, ~hole]
    flat = torch.from_numpy(np.flatnonzero(near))
    out = x.detach().cpu().double().clone()
    for b in range(x.shape[0]):
        for c in range(x.shape[1]):
            values = out[b, c].flatten()[flat].numpy()
            values[hole] = solver.solve(-(coupling @ values[~hole]))
            out[b, c].view(-1)[flat] = torch.from_numpy(values)
    return out.to(x)


def biharmonic_fill(x: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    return polyharmonic_fill(x, known, 2)


def local_range(x: torch.Tensor, known: torch.Tensor, radius: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """(low, high): each known pixel's min and max over the known pixels within ``radius``, filled into
    the hole harmonically (exactly, on the hole alone). A weighted average of the boundary's bounds, so
    low <= high everywhere, and a smooth gradient (whose neighbourhood spans its values) lies inside the range."""
    size, fence = 2 * radius + 1, torch.finfo(x.dtype).max
    square_max = lambda v: F.max_pool2d(F.max_pool2d(v, (size, 1), 1, (radius, 0)), (1, size), 1, (0, radius))
    high = square_max(torch.where(known > 0, x, -fence))  # a square's max as a column's then a row's (separable)
    low = -square_max(torch.where(known > 0, -x, -fence))
    return polyharmonic_fill(low, known, 1), polyharmonic_fill(high, known, 1)


def fill_hole(x: torch.Tensor, mask: torch.Tensor, how: str) -> torch.Tensor:
    """The start of the fill where mask > 0: the known pixels' mean, a harmonic or a (range-clamped)
    biharmonic fill (or none)."""
    known = (mask == 0).to(x)
    if how == "none":
        return x
    if how == "mean":
        mean = (x * known).sum((-2, -1), keepdim=True) / known.sum((-2, -1), keepdim=True).clamp(min=1)
        return torch.where(known > 0, x, mean)
    if how == "diffuse":
        return diffuse_fill(x, known)
    if how == "biharmonic":
        known = known.amin(0, keepdim=True)
        if not known.any():  # no boundary to fill from, nor a range to keep to
            return x
        low, high = local_range(x, known.expand_as(x[:, :1]))
        return biharmonic_fill(x, known).clamp(low, high)
    raise ValueError(f"inpaint: prefill must be one of {PREFILLS}, got {how!r}")
