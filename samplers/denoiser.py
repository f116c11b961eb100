"""The Denoiser protocol: what a model must offer a sampler.

A denoiser is a callable ``D(x, sigma, **cond) -> x0`` with ``sigma`` a [B]
tensor, in k-diffusion's convention: x = x0 + sigma * eps for every
parameterisation except flow, where x = (1 - sigma) * x0 + sigma * eps.
It lives here, below the models that implement it (models/), as k-diffusion's
sampling module sits below its wrappers.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class Denoiser(Protocol):
    sigma_min: float
    sigma_max: float
    parameterisation: str  # "eps", "v", "x0", "edm" or "flow"

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **cond) -> torch.Tensor: ...


def noise_form(model) -> str:
    """"flow" for rectified-flow models, else "ve" (also when the model does not say)."""
    return "flow" if getattr(model, "parameterisation", None) == "flow" else "ve"


def signal_scale(sigma, form: str):
    """alpha(sigma) in x = alpha x0 + sigma eps: 1 for VE, 1 - sigma for flow (a float or a tensor)."""
    if form == "flow":
        return 1 - sigma
    return torch.ones_like(sigma) if isinstance(sigma, torch.Tensor) else 1.0
