"""Forward noising q(x_t | x_0).

VE:   x = x0 + sigma eps
VP:   x = sqrt(abar) x0 + sqrt(1 - abar) eps, abar = 1 / (1 + sigma^2) (DDPM; this is the
      VE state divided by sqrt(1 + sigma^2))
flow: x = (1 - sigma) x0 + sigma eps (rectified flow; sigma in [0, 1])
"""
from __future__ import annotations

import torch

FORMS = ("ve", "vp", "flow")


def add_noise(x0: torch.Tensor, noise: torch.Tensor, sigma, form: str = "ve") -> torch.Tensor:
    """A sample of q(x_sigma | x0) given unit noise; sigma a float or a [B] tensor."""
    s = torch.as_tensor(sigma, dtype=x0.dtype, device=x0.device).reshape(-1, *([1] * (x0.ndim - 1)))
    if form == "ve":
        return x0 + s * noise
    if form == "vp":
        abar = 1 / (1 + s**2)
        return abar.sqrt() * x0 + (1 - abar).sqrt() * noise
    if form == "flow":
        if (s > 1).any():
            raise ValueError(f"add_noise: flow sigma must be in [0, 1], got {sigma}")
        return (1 - s) * x0 + s * noise
    raise ValueError(f"add_noise: form must be one of {FORMS}, got {form!r}")
