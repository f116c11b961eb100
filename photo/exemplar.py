"""Exemplar texture: a hole re-synthesised from the photo's own patches, guided by a smooth fill.

The model's annealed fill (photo/inpaint.py) gets the layout of a wide hole right but is smooth in
fine texture (a mean over the textures that fit); the biharmonic prefill is smooth everywhere but
nearly exact in thin holes. ``texture_fill`` combines the three by the hole's local depth (``depth``:
how far the hole reaches from the known pixels around each of its pixels):
- the smooth fill: the prefill plus a share of the annealed fill growing with depth (two estimators
  with different errors: their mean has less error than either, and a thin scratch takes the prefill);
- the texture: the hole re-synthesised from the known pixels, coarse to fine over an image pyramid
  (Wexler et al.'s EM synthesis with PatchMatch's search), with the smooth fill's local mean colour;
- the output: the smooth fill plus a share of the texture's difference from it, growing with depth
  (in a thin hole copied texture is mostly error; in a wide one it is what the photo looks like).
The synthesis:
- search: each hole pixel p looks for a source pixel q whose 7x7 patch lies in the known region
  and minimises the squared distance between the patches around p (the current estimate, known
  pixels included) and around q, plus GUIDE_WEIGHT x the distance between the guide's and the
  source's local means (Gaussian, GUIDE_BLUR): the guide keeps the copied patches on the model's
  layout and colours. Candidates: the matches of the neighbours JUMPS pixels away, shifted back
  (propagation), and random ones in windows shrinking from SEARCH pixels (random search); a
  candidate off the valid sources snaps to the nearest valid one. The distance is taken on a
  checkerboard of the patch's pixels (half the cost);
- vote: each hole pixel becomes the mean of the pixels the matched patches covering it put there,
  weighted by a Gaussian (VOTE_SIGMA) of their distance from each patch's centre;
- the matches of a level, doubled, start the next finer level.
Last, the guide's local mean colour over the hole replaces the copy's (``keep_low``): the copies
bring the texture, the smooth fill the colour, so a fine high-contrast texture gets no colour shift.
Every step works on the list of hole pixels (and their patches), so its cost grows with the masked
pixels, not with the photo or the mask's bounding box; the pyramid, the source map and the depth are
computed over the photo once (linear, a small part of the time).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

RADIUS = 3  # 7x7 patches
LEVELS = 3  # pyramid levels (the coarsest 4x coarser)
ITERATIONS = (4, 2, 1)  # search + vote rounds per level, coarse to fine
GUIDE_WEIGHT = 3.0  # the guide's local-mean distance against the mean squared patch difference
GUIDE_BLUR = 2.0  # the local mean's Gaussian sigma, in pixels of each level
COLOUR_BLUR = 4.0  # keep_low: the guide's colour below this Gaussian sigma (pixels)
SEARCH = (64, 16, 8)  # the random search's first window (pixels of the level), halved down to 1
JUMPS = ((1, 2, 4), (1, 2), (1,))  # propagation: the neighbours this far away, per level
VOTE_SIGMA = 0.5  # the vote's Gaussian weight over a patch's pixels (pixels): near-centre copies stay sharp
VOTE_CUT = 0.01  # ... and the pixels weighing less are left out (with VOTE_SIGMA 0.5: the 3x3 centre)
CHUNK = 32768  # hole pixels per batch of patch distances (bounded memory)
THIN = 2.5  # a hole no deeper than this (pixels) is thin: the prefill alone fills it (no model, no texture)
DEPTH_WINDOW = 4  # depth: the deepest hole pixel within this many pixels
GUIDE_SHARE, GUIDE_RAMP = 0.5, 8.0  # the annealed fill's share of the smooth fill, reached THIN + GUIDE_RAMP deep
TEXTURE_RAMP = 5.0  # the texture's share, 1 from THIN + TEXTURE_RAMP pixels deep


def texture_fill(x: torch.Tensor, m: torch.Tensor, guide: torch.Tensor, prefilled: torch.Tensor,
                 seed: int = 0) -> torch.Tensor:
    """x [B, C, H, W] with its hole (m [B, 1, H, W] > 0) filled: the smooth fill (``prefilled`` and the
    annealed ``guide``, both x outside the hole, mixed by depth) plus, by depth, the photo's own texture
    re-synthesised from the known pixels; a soft mask blends m fill + (1 - m) x. Works on the CPU (the
    search is scattered gathers over lists of pixels) and returns on x's device."""
    device = x.device
    x, m, guide, prefilled = (t.cpu() for t in (x, m, guide, prefilled))
    out = x.clone()
    for b in range(x.shape[0]):
        hole = m[b, 0] > 0
        if not hole.any():
            continue
        d = depth(hole)
        smooth = prefilled[b].float() + ramp(d, GUIDE_RAMP, GUIDE_SHARE) * (guide[b].float() - prefilled[b].float())
        share, target = ramp(d, TEXTURE_RAMP), d > THIN
        fill = smooth
        if target.any() and not hole.all():  # (no known pixel to copy from: the smooth fill)
            texture = synthesize(torch.where(hole, smooth, x[b].float()), target, hole, smooth,
                                 torch.Generator().manual_seed(seed + b))
            fill = smooth + share * (keep_low(texture, smooth, target) - smooth)
        out[b] = x[b] + m[b] * (fill - x[b])
    return out.to(device)


def depth(hole: torch.Tensor) -> torch.Tensor:
    """[H, W]: at each hole pixel, the largest distance (pixels) from a hole pixel within DEPTH_WINDOW to the
    nearest known pixel: about half the hole's width there (a 2-pixel scratch is 1 deep); 0 where known."""
    far = ndimage.distance_transform_edt(hole.cpu().numpy())
    return torch.from_numpy(ndimage.maximum_filter(far, 2 * DEPTH_WINDOW + 1) * (far > 0)).float()


def ramp(d: torch.Tensor, length: float, top: float = 1.0) -> torch.Tensor:
    """0 up to THIN deep, rising linearly to ``top`` over ``length`` pixels more."""
    return top * ((d - THIN) / length).clamp(0, 1)


def guided(m: torch.Tensor) -> torch.Tensor:
    """The part of mask m [B, 1, H, W] that takes a share of the annealed fill (deeper than THIN)."""
    return torch.stack([m[b] * (depth(m[b, 0] > 0) > THIN).to(m.device, m.dtype) for b in range(m.shape[0])])


def synthesize(x: torch.Tensor, target: torch.Tensor, hole: torch.Tensor, guide: torch.Tensor,
               generator) -> torch.Tensor:
    """The coarse-to-fine synthesis of x [C, H, W] where ``target`` [H, W] is True, copying from patches
    that lie outside ``hole`` (its superset: the rest of it holds a fill, not the photo)."""
    pyramid = [(x, target, hole, guide)]
    for _ in range(LEVELS - 1):
        x, target, hole, guide = pyramid[-1]
        pool = lambda v: F.avg_pool2d(v[None], 2, ceil_mode=True)[0]
        kept = pool((~target).to(x)[None])
        pyramid.append((pool(x * (~target).to(x)[None]) / kept.clamp(min=1e-6), kept[0] < 1,
                        pool(hole.to(x)[None])[0] > 0, pool(guide)))
    matches = previous = None
    for rounds, jumps, radius, (x, target, hole, guide) in zip(ITERATIONS, JUMPS, SEARCH, reversed(pyramid)):
        level = Level(x, target, hole, guide, jumps, radius)
        if previous is None:  # random matches within a quarter of the photo, on the guide
            matches = level.snap(level.ys + random_shift(level.ys, x.shape[1] // 4, generator),
                                 level.xs + random_shift(level.xs, x.shape[2] // 4, generator))
            estimate = torch.where(target, guide, x)
        else:
            matches = level.snap(*level.from_coarse(previous, matches))
            estimate = level.vote(*matches)
        for _ in range(rounds):
            matches = level.search(estimate, matches, generator)
            estimate = level.vote(*matches)
        previous = level
    return estimate


def random_shift(v: torch.Tensor, radius: int, generator) -> torch.Tensor:
    radius = max(1, radius)
    return torch.randint(-radius, radius + 1, v.shape, generator=generator)


class Level:
    """One pyramid level: the target pixels (ys, xs), the valid sources (patches outside the hole) and the
    guide's and sources' local means."""

    def __init__(self, x: torch.Tensor, target: torch.Tensor, hole: torch.Tensor, guide: torch.Tensor,
                 jumps: tuple[int, ...], search_radius: int):
        self.x, self.target, self.jumps, self.search_radius = x, target, jumps, search_radius
        self.h, self.w = target.shape
        self.ys, self.xs = target.nonzero(as_tuple=True)
        d = torch.arange(-RADIUS, RADIUS + 1)
        self.dy, self.dx = (v.flatten() for v in torch.meshgrid(d, d, indexing="ij"))
        valid = ndimage.binary_erosion((~hole).cpu().numpy(), np.ones((2 * RADIUS + 1,) * 2), border_value=0)
        if not valid.any():  # no whole known patch: any known pixel (patches clamp at the borders)
            valid = (~hole).cpu().numpy()
        self.nearest = torch.from_numpy(ndimage.distance_transform_edt(~valid, return_distances=False,
                                                                       return_indices=True))
        known = (~hole).to(x)[None]  # (a source's local mean: of the photo's pixels only)
        self.source_mean = blur(x * known, GUIDE_BLUR) / blur(known, GUIDE_BLUR).clamp(min=1e-6)
        self.target_mean = blur(guide, GUIDE_BLUR)[:, self.ys, self.xs].T  # [N, C]
        padded = F.pad(x[None], (RADIUS,) * 4, mode="replicate")[0]  # a patch around any pixel lies inside
        self.pw = self.w + 2 * RADIUS
        self.pixels = padded.flatten(1).T.contiguous()  # [(H + 2R) (W + 2R), C]: a patch is a gather of rows
        sampled = (self.dy + self.dx) % 2 == 0  # the distance on a checkerboard of the patch's pixels: half the cost
        self.cy, self.cx = self.dy[sampled], self.dx[sampled]
        self.offsets = self.cy * self.pw + self.cx  # its flat offsets in the padded photo

    def snap(self, sy: torch.Tensor, sx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Candidate sources moved onto the nearest valid source."""
        sy, sx = sy.clamp(0, self.h - 1), sx.clamp(0, self.w - 1)
        return self.nearest[0, sy, sx], self.nearest[1, sy, sx]

    def from_coarse(self, level: "Level", matches) -> tuple[torch.Tensor, torch.Tensor]:
        """The coarser ``level``'s matches, doubled, at this level's hole pixels (every one lies in a coarse
        hole pixel: a coarse pixel is in the hole if any of its pixels is)."""
        sy, sx = matches
        index = torch.full((level.h, level.w), 0, dtype=torch.long)
        index[level.ys, level.xs] = torch.arange(len(level.ys))
        k = index[(self.ys // 2).clamp(max=level.h - 1), (self.xs // 2).clamp(max=level.w - 1)]
        return 2 * sy[k] + self.ys % 2, 2 * sx[k] + self.xs % 2

    def patches(self, image: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor, dy, dx) -> torch.Tensor:
        """[N, K, C] the pixels (dy, dx) of image [C, H, W] around (ys, xs), clamped at the borders."""
        yy = (ys[:, None] + dy).clamp(0, self.h - 1)
        xx = (xs[:, None] + dx).clamp(0, self.w - 1)
        return image.flatten(1)[:, yy * self.w + xx].permute(1, 2, 0)

    def cost(self, target: torch.Tensor, mean: torch.Tensor, sy: torch.Tensor, sx: torch.Tensor) -> torch.Tensor:
        source = self.pixels[self.padded_index(sy, sx)[:, None] + self.offsets]
        patch = (source - target).square_().mean((1, 2))
        return patch + GUIDE_WEIGHT * (self.source_mean[:, sy, sx].T - mean).square().mean(1)

    def padded_index(self, ys: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
        return (ys + RADIUS) * self.pw + xs + RADIUS

    def candidates(self, sy, sx, generator):
        """Propagation (the neighbours' matches, shifted back) and random search around the current match."""
        index = torch.full((self.h, self.w), -1, dtype=torch.long)
        index[self.ys, self.xs] = torch.arange(len(self.ys))
        for step in self.jumps:
            for oy, ox in ((step, 0), (-step, 0), (0, step), (0, -step)):
                ny, nx = (self.ys + oy).clamp(0, self.h - 1), (self.xs + ox).clamp(0, self.w - 1)
                k = index[ny, nx]
                inside = k >= 0
                yield self.snap(torch.where(inside, sy[k] - oy, sy), torch.where(inside, sx[k] - ox, sx))
        radius = self.search_radius
        while radius >= 1:
            yield self.snap(sy + random_shift(sy, radius, generator), sx + random_shift(sx, radius, generator))
            radius //= 2

    def search(self, estimate: torch.Tensor, matches, generator):
        sy, sx = (v.clone() for v in matches)
        candidates = list(self.candidates(sy, sx, generator))
        for start in range(0, len(self.ys), CHUNK):
            part = slice(start, start + CHUNK)
            target = self.patches(estimate, self.ys[part], self.xs[part], self.cy, self.cx)
            mean = self.target_mean[part]
            best = self.cost(target, mean, sy[part], sx[part])
            for cy, cx in candidates:
                cost = self.cost(target, mean, cy[part], cx[part])
                better = cost < best
                best = torch.where(better, cost, best)
                sy[part], sx[part] = torch.where(better, cy[part], sy[part]), torch.where(better, cx[part], sx[part])
        return sy, sx

    def vote(self, sy: torch.Tensor, sx: torch.Tensor) -> torch.Tensor:
        """The estimate: each hole pixel the weighted mean of what the matched patches covering it put there."""
        total = torch.zeros(self.x.shape[0], self.h * self.w)
        count = torch.zeros(self.h * self.w)
        for dy, dx in zip(self.dy.tolist(), self.dx.tolist()):
            weight = np.exp(-(dy * dy + dx * dx) / (2 * VOTE_SIGMA ** 2))
            if weight < VOTE_CUT:
                continue
            ty, tx = self.ys + dy, self.xs + dx
            keep = (ty >= 0) & (ty < self.h) & (tx >= 0) & (tx < self.w)
            ty, tx = ty[keep], tx[keep]
            keep_hole = self.target[ty, tx]
            target = (ty * self.w + tx)[keep_hole]
            source = self.padded_index(sy[keep] + dy, sx[keep] + dx)[keep_hole]
            total.index_add_(1, target, weight * self.pixels[source].T)
            count.index_add_(0, target, torch.full((len(target),), weight))
        voted = (total / count.clamp(min=1)).reshape(self.x.shape)
        return torch.where(self.target, voted, self.x)


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of [C, H, W] (separable, reflected borders; the kernel cut at 3 sigma, and inside the image)."""
    r = min(int(3 * sigma), min(x.shape[-2:]) - 1)
    k = torch.exp(-torch.arange(-r, r + 1, dtype=x.dtype).square() / (2 * sigma ** 2))
    k = k / k.sum()
    c = x.shape[0]
    y = F.conv2d(F.pad(x[None], (r, r, 0, 0), mode="reflect"), k.expand(c, 1, 1, -1), groups=c)
    return F.conv2d(F.pad(y, (0, 0, r, r), mode="reflect"), k[:, None].expand(c, 1, -1, 1), groups=c)[0]


def keep_low(fill: torch.Tensor, guide: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """``fill`` with its local mean colour over the hole replaced by the guide's (Gaussian COLOUR_BLUR, the
    means taken over hole pixels only: outside the hole both are the photo)."""
    h = hole.to(fill)[None]
    weight = blur(h, COLOUR_BLUR).clamp(min=1e-6)
    return fill + h * (blur((guide - fill) * h, COLOUR_BLUR) / weight)
