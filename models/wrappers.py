"""Wrappers that turn a raw network into a Denoiser D(x, sigma) -> x0.

Every wrapper speaks the k-diffusion convention the samplers use: x is in
"VE" form x = x0 + sigma * eps (or x = (1 - sigma) x0 + sigma * eps for flow
models) and sigma is a [B] tensor. What the network predicts and how it is
conditioned on the noise level is the wrapper's business:

- EDMDenoiser: Karras et al. 2022 (EDM) preconditioning, Table 1.
- NetDenoiser: eps-, v- or x0-prediction networks trained on VP inputs
  x / sqrt(1 + sigma^2), conditioned on continuous sigma or on a DDPM
  timestep (fractional, by log-sigma interpolation in alphas_cumprod);
  and flow (velocity) networks, x = (1 - sigma) x0 + sigma eps.
"""
from __future__ import annotations

import torch
from torch import nn

from ..schedules.discrete import alphas_cumprod_to_sigmas, sigma_to_timestep


def _expand(sigma: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-item sigma [B] broadcast against x [B, ...]."""
    return sigma.to(x.dtype).reshape(-1, *([1] * (x.ndim - 1)))


class EDMDenoiser(nn.Module):
    """D(x, sigma) = c_skip x + c_out F(c_in x, c_noise) with EDM's coefficients."""

    parameterisation = "edm"
    noise_reading = "white"  # what its sigma is for a photo's estimated noise (models/loader.py NOISE_READINGS)

    def __init__(self, net: nn.Module, sigma_data: float = 0.5, sigma_min: float = 0.002, sigma_max: float = 80.0):
        super().__init__()
        self.net, self.sigma_data = net, float(sigma_data)
        self.sigma_min, self.sigma_max = float(sigma_min), float(sigma_max)

    def preconditioning(self, sigma: torch.Tensor):
        """(c_skip, c_out, c_in, c_noise) of EDM Table 1."""
        sd2, s2 = self.sigma_data**2, sigma**2
        return sd2 / (s2 + sd2), sigma * self.sigma_data / (s2 + sd2).sqrt(), 1 / (s2 + sd2).sqrt(), sigma.log() / 4

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, seed=None, **cond) -> torch.Tensor:
        """``seed`` arrives in the samplers' extra_args (ComfyUI's convention); a network ignores it."""
        s = _expand(sigma, x)
        c_skip, c_out, c_in, _ = self.preconditioning(s)
        c_noise = sigma.to(x.dtype).reshape(-1).log() / 4
        out = self.net((c_in * x).to(self.dtype), c_noise.expand(x.shape[0]), **cond)
        return c_skip * x + c_out * out.to(x.dtype)

    @property
    def dtype(self) -> torch.dtype:
        return next(self.net.parameters()).dtype


# x0 from the network output, per prediction type, for VP-scaled inputs (k-diffusion's
# CompVis/V denoisers): eps: x - s eps; v (Salimans & Ho 2022): x/(s^2+1) - s v/sqrt(s^2+1).
_TO_X0 = {
    "eps": lambda x, s, out: x - s * out,
    "v": lambda x, s, out: x / (s**2 + 1) - s * out / (s**2 + 1).sqrt(),
    "x0": lambda x, s, out: out,
    "flow": lambda x, s, out: x - s * out,  # velocity v = eps - x0 (rectified flow)
}


class NetDenoiser(nn.Module):
    """A network ``net(x_in, cond)`` predicting eps, v, x0 or flow velocity.

    ``alphas_cumprod`` given: a discrete-time DDPM network, conditioned on the
    (fractional) timestep whose log-sigma matches; otherwise on sigma itself.
    """

    def __init__(self, net: nn.Module, prediction: str = "eps", alphas_cumprod: torch.Tensor | None = None,
                 sigma_min: float | None = None, sigma_max: float | None = None):
        super().__init__()
        if prediction not in _TO_X0:
            raise ValueError(f"NetDenoiser: prediction must be one of {list(_TO_X0)}, got {prediction!r}")
        self.net, self.prediction = net, prediction
        self.parameterisation = prediction
        self.model_sigmas = None if alphas_cumprod is None else alphas_cumprod_to_sigmas(alphas_cumprod)
        if self.model_sigmas is not None:
            sigma_min = float(self.model_sigmas.min()) if sigma_min is None else sigma_min
            sigma_max = float(self.model_sigmas.max()) if sigma_max is None else sigma_max
        default_max = 1.0 if prediction == "flow" else 80.0
        self.sigma_min = 0.002 if sigma_min is None else float(sigma_min)
        self.sigma_max = default_max if sigma_max is None else float(sigma_max)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, seed=None, **cond) -> torch.Tensor:
        s = _expand(sigma, x)
        x_in = x if self.prediction == "flow" else x / (s**2 + 1).sqrt()
        c = sigma.reshape(-1).expand(x.shape[0])
        if self.model_sigmas is not None:
            c = sigma_to_timestep(c, self.model_sigmas)
        return _TO_X0[self.prediction](x, s, self.net(x_in, c, **cond).to(x.dtype))
