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


def laplacian_matrix(h: int, w: int):
    """Sparse 5-point Laplacian of an h x w grid with reflecting (Neumann) borders."""
    import scipy.sparse as sp

    def second_difference(n):
        d = sp.diags([np.ones(n - 1), -2 * np.ones(n), np.ones(n - 1)], [-1, 0, 1], format="lil")
        d[0, 0] = d[n - 1, n - 1] = -1
        return d.tocsr()

    return sp.kron(sp.identity(h), second_difference(w)) + sp.kron(second_difference(h), sp.identity(w))


def biharmonic_fill(x: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Fill the unknown pixels with the solution of the biharmonic equation (Laplacian^2 u = 0),
    the known pixels as boundary: smoother than the harmonic fill and continuing gradients."""
    from scipy.sparse.linalg import splu

    h, w = x.shape[-2:]
    bilaplacian = laplacian_matrix(h, w)
    bilaplacian = (bilaplacian @ bilaplacian).tocsc()
    unknown = (known[0, 0] == 0).flatten().cpu().numpy()
    if not unknown.any() or unknown.all():  # nothing to fill, or no boundary: constants solve it (singular)
        return x
    solver = splu(bilaplacian[unknown][:, unknown].tocsc())
    coupling = bilaplacian[unknown][:, ~unknown]
    out = x.detach().cpu().double().clone()
    for b in range(x.shape[0]):
        for c in range(x.shape[1]):
            values = out[b, c].flatten().numpy()
            values[unknown] = solver.solve(-(coupling @ values[~unknown]))
            out[b, c] = torch.from_numpy(values.reshape(h, w))
    return out.to(x)


def local_range(x: torch.Tensor, known: torch.Tensor, radius: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """(low, high): each known pixel's min and max over the known pixels within ``radius``, filled into
    the hole harmonically. A weighted average of the boundary's bounds, so low <= high everywhere, and
    a smooth gradient (whose neighbourhood spans its values) lies inside the range."""
    size, fence = 2 * radius + 1, torch.finfo(x.dtype).max
    high = F.max_pool2d(torch.where(known > 0, x, -fence), size, 1, radius)
    low = -F.max_pool2d(torch.where(known > 0, -x, -fence), size, 1, radius)
    return diffuse_fill(torch.where(known > 0, low, x), known), diffuse_fill(torch.where(known > 0, high, x), known)


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
        low, high = local_range(x, known.expand_as(x[:, :1]))
        return biharmonic_fill(x, known).clamp(low, high)
    raise ValueError(f"inpaint: prefill must be one of {PREFILLS}, got {how!r}")
