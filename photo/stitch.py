"""Crop & stitch for models that work at their own size (a VAE's latent, a resolution they were trained at).

A box (top, bottom, left, right) around the mask is grown to a multiple of what the model needs, cut
out, resized to a working size if one is asked for, padded to the multiple, and after the model's pass
cropped and resized back and blended in with the feathered mask. Pixels where the mask is 0, and every pixel outside the box, are the input's,
bit for bit.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

Box = tuple[int, int, int, int]


def fit_box(box: Box, size: tuple[int, int], multiple: int) -> Box:
    """Grow (top, bottom, left, right) about its centre to the next multiple of ``multiple`` per side,
    shifted to stay inside ``size`` (h, w); a side longer than the image becomes the whole side."""
    def fit(lo: int, hi: int, limit: int) -> tuple[int, int]:
        length = min(-(-(hi - lo) // multiple) * multiple, limit)
        lo = max(0, min(lo - (length - (hi - lo)) // 2, limit - length))
        return lo, lo + length

    (t, b), (l, r) = fit(box[0], box[1], size[0]), fit(box[2], box[3], size[1])
    return t, b, l, r


def work_size(height: int, width: int, resolution: int = 0) -> tuple[int, int]:
    """The (h, w) a crop is processed at: scaled so its longer side is ``resolution`` (0 = as is)."""
    if resolution <= 0:
        return height, width
    scale = resolution / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """IMAGE [B,H,W,C] resized to ``size`` (bicubic, antialiased when shrinking); unchanged when it fits."""
    if tuple(image.shape[1:3]) == tuple(size):
        return image
    x = F.interpolate(image.movedim(-1, 1), size=size, mode="bicubic", antialias=True, align_corners=False)
    return x.movedim(1, -1).clamp(0, 1)


def to_work(image: torch.Tensor, size: tuple[int, int], multiple: int, pad: str = "reflect") -> torch.Tensor:
    """IMAGE [B,H,W,C] resized to ``size`` and padded at the bottom and right to a multiple of ``multiple``
    ("reflect", or "zeros" for a mask), so a model sees its own sizes and no pixel is resampled needlessly."""
    x = resize(image, size).movedim(-1, 1)
    ph, pw = (-size[0]) % multiple, (-size[1]) % multiple
    if ph or pw:
        mode = "constant" if pad == "zeros" else "reflect" if ph < size[0] and pw < size[1] else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x.movedim(1, -1)


def from_work(image: torch.Tensor, size: tuple[int, int], box: Box) -> torch.Tensor:
    """The inverse of to_work: the padding cut off, resized back to the box's (h, w)."""
    t, b, l, r = box
    return resize(image[:, :size[0], :size[1]], (b - t, r - l))


def latent_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """MASK [B,H,W] -> [B,1,h,w] at a latent's size: each latent pixel takes the largest mask value
    it covers, so every latent pixel that touches the hole is repainted."""
    return F.adaptive_max_pool2d(mask[:, None].float(), size)


def stitch(image: torch.Tensor, patch: torch.Tensor, mask: torch.Tensor, box: Box) -> torch.Tensor:
    """IMAGE [B,H,W,C] with ``patch`` (the box's new content) blended in as mask * patch + (1 - mask) * image
    inside ``box``; where the mask is 0, and outside the box, the input's own values."""
    t, b, l, r = box
    out = image.clone()
    m = mask[:, t:b, l:r, None].to(image.dtype)
    region = image[:, t:b, l:r]
    out[:, t:b, l:r] = torch.where(m == 0, region, m * patch.to(image) + (1 - m) * region)
    return out
