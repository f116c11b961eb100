"""The Denoiser protocol shared by samplers, nodes and the runner.

A denoiser is a callable ``D(x, sigma, **cond) -> x0`` with ``sigma`` a [B]
tensor, in k-diffusion's convention: x = x0 + sigma * eps for every
parameterisation except flow, where x = (1 - sigma) * x0 + sigma * eps.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

PARAMETERISATIONS = ("eps", "v", "x0", "edm", "flow")


@runtime_checkable
class Denoiser(Protocol):
    sigma_min: float
    sigma_max: float
    parameterisation: str

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **cond) -> torch.Tensor: ...


def noise_form(model) -> str:
    """"flow" for rectified-flow models, else "ve" (also when the model does not say)."""
    return "flow" if getattr(model, "parameterisation", None) == "flow" else "ve"


def signal_scale(sigma: torch.Tensor, form: str) -> torch.Tensor:
    """alpha(sigma) in x = alpha x0 + sigma eps: 1 for VE, 1 - sigma for flow."""
    return 1 - sigma if form == "flow" else torch.ones_like(sigma)
