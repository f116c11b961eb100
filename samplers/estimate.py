"""Noise-level estimation of a photo (Donoho & Johnstone 1994).

The finest diagonal Haar wavelet coefficient (a - b - c + d) / 2 of a 2x2 block
has standard deviation sigma for white Gaussian noise and is near zero on smooth
image content, so sigma = median(|HH|) / 0.6745 (the MAD of a normal variable).
Blocks touching clipped pixels (0 or 1) are left out: clipping shrinks noise there.
"""
from __future__ import annotations

import torch

MAD_TO_SIGMA = 0.6744897501960817  # the median of |N(0, 1)|


def estimate_sigma(image: torch.Tensor) -> float:
    """Noise standard deviation on the [0, 1] scale of an IMAGE [B,H,W,C] or [H,W,C]."""
    x = image.reshape(-1, *image.shape[-3:]).double()
    h, w = (x.shape[1] // 2) * 2, (x.shape[2] // 2) * 2
    if h < 2 or w < 2:
        raise ValueError(f"estimate_sigma: image {tuple(image.shape)} is too small to estimate noise")
    a, b = x[:, 0:h:2, 0:w:2], x[:, 0:h:2, 1:w:2]
    c, d = x[:, 1:h:2, 0:w:2], x[:, 1:h:2, 1:w:2]
    hh = (a - b - c + d) / 2
    block = torch.stack([a, b, c, d])
    unclipped = ((block > 0) & (block < 1)).all(0)
    per_channel = []
    for ch in range(x.shape[-1]):
        values = hh[..., ch][unclipped[..., ch]]
        if values.numel() < 16:
            values = hh[..., ch].flatten()
        per_channel.append(float(values.abs().median()) / MAD_TO_SIGMA)
    return float(torch.tensor(per_channel).median())
