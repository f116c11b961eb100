"""Masks (1 = repaint, 0 = keep): growing, feathering, checking, and the box around them."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def grow_mask(mask: torch.Tensor, expand: int, tapered_corners: bool = True) -> torch.Tensor:
    """Grey dilation (expand > 0) or erosion (< 0), one pixel per step; tapered = cross kernel."""
    m = mask.reshape(-1, 1, *mask.shape[-2:])
    kernel = [[0, 1, 0], [1, 1, 1], [0, 1, 0]] if tapered_corners else [[1] * 3] * 3
    offsets = [(dy - 1, dx - 1) for dy in range(3) for dx in range(3) if kernel[dy][dx]]
    # After h + w steps every pixel has seen every other (the kernel moves one pixel per step): more
    # steps change nothing, so a huge expand costs no more than that.
    for _ in range(min(abs(expand), m.shape[-2] + m.shape[-1])):
        padded = F.pad(m, (1, 1, 1, 1), mode="replicate")
        shifted = torch.stack([padded[..., 1 + dy:1 + dy + m.shape[-2], 1 + dx:1 + dx + m.shape[-1]]
                               for dy, dx in offsets])
        m = shifted.amax(0) if expand > 0 else shifted.amin(0)
    return m.reshape(mask.shape)


def feather_mask(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Soften the mask edge outwards over ``radius`` pixels (the inside stays 1)."""
    if radius <= 0:
        return mask
    m = mask.reshape(-1, 1, *mask.shape[-2:])
    grown = grow_mask(m, radius)
    k = 2 * radius + 1
    blurred = F.avg_pool2d(F.pad(grown, (radius,) * 4, mode="replicate"), k, stride=1)
    return torch.maximum(m, blurred * (grown > 0)).reshape(mask.shape)


def crop_box(mask: torch.Tensor, context: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the mask's bounding box plus context (and a quarter of its size)."""
    rows = torch.nonzero(mask.reshape(-1, *mask.shape[-2:]).amax(0) > 0)
    if len(rows) == 0:
        return 0, 0, 0, 0
    (t, l), (b, r) = rows.min(0).values.tolist(), (rows.max(0).values + 1).tolist()
    return pad_box((t, b, l, r), context, mask.shape[-2:])


def pad_box(box, context: int, size) -> tuple[int, int, int, int]:
    """A box (top, bottom, left, right) grown by context and a quarter of its size, inside an image of ``size``."""
    t, b, l, r = box
    pad = lambda length: context + math.ceil(length / 4)
    return max(0, t - pad(b - t)), min(size[0], b + pad(b - t)), max(0, l - pad(r - l)), min(size[1], r + pad(r - l))


def check_mask(mask, batch: int, size, owner: str = "inpaint") -> torch.Tensor:
    """MASK [H,W], [B,H,W] or a LATENT noise_mask [B,1,H,W] of spatial ``size`` (batch 1 or ``batch``)
    -> [batch,H,W] float32 in [0, 1]; a ValueError naming ``owner`` says what is wrong."""
    if isinstance(mask, torch.Tensor) and mask.ndim == 4 and mask.shape[1] == 1:
        mask = mask[:, 0]
    if not isinstance(mask, torch.Tensor) or mask.ndim not in (2, 3):
        raise ValueError(f"{owner}: expected a MASK [batch, height, width], got "
                         f"{tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__}")
    mask = mask.reshape(-1, *mask.shape[-2:])
    if tuple(mask.shape[-2:]) != tuple(size):
        raise ValueError(f"{owner}: mask {tuple(mask.shape[-2:])} (h, w) does not match image {tuple(size)}; "
                         "scale the mask to the image size")
    if mask.shape[0] not in (1, batch):
        raise ValueError(f"{owner}: {mask.shape[0]} masks for a batch of {batch}; give one mask or one per image")
    if not torch.isfinite(mask).all():
        raise ValueError(f"{owner}: the mask contains NaN or inf")
    return mask.float().clamp(0, 1).expand(batch, *mask.shape[-2:])
