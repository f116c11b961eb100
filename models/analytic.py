"""Exact denoisers for tests and benchmarks.

GaussianDenoiser: data x0 ~ N(mean, std^2) per element. With x = a x0 + sigma eps
(a = 1 for VE, 1 - sigma for flow) the posterior mean is
    D(x, sigma) = mean + a v / (a^2 v + sigma^2) (x - a mean),   v = std^2,
and the probability-flow ODE has the closed-form solution
    x(sigma_1) = a_1 mean + a_1 sqrt(v + s_1^2) (x(sigma_0) - a_0 mean) / sqrt(a_0^2 v + sigma_0^2)
with s = sigma / a the VE-equivalent noise level (each element moves along its own
Gaussian's quantile).

FiniteDatasetDenoiser: the ideal denoiser of an empirical dataset {y_i}: a
softmax-weighted average of the y_i under the Gaussian likelihood of x.
"""
from __future__ import annotations

import torch

from ..samplers.denoiser import signal_scale


def _col(sigma: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return sigma.to(x.dtype).reshape(-1, *([1] * (x.ndim - 1)))


class GaussianDenoiser:
    def __init__(self, mean=0.0, std=1.0, noise_form: str = "ve", sigma_min: float = 0.002, sigma_max: float = 80.0):
        self.mean, self.std = torch.as_tensor(mean, dtype=torch.float64), torch.as_tensor(std, dtype=torch.float64)
        self.form = noise_form
        self.parameterisation = "flow" if noise_form == "flow" else "x0"
        self.sigma_min = sigma_min
        self.sigma_max = 1.0 if noise_form == "flow" else sigma_max
        self.calls = 0

    def _stats(self, x):
        return self.mean.to(x), self.std.to(x) ** 2

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **cond) -> torch.Tensor:
        self.calls += 1
        s = _col(sigma, x)
        a = signal_scale(s, self.form)
        mean, v = self._stats(x)
        return mean + a * v / (a**2 * v + s**2) * (x - a * mean)

    def marginal(self, sigma: float, like: torch.Tensor):
        """(mean, std) of x at noise level sigma."""
        s = torch.as_tensor(sigma, dtype=like.dtype)
        a = signal_scale(s, self.form)
        mean, v = self._stats(like)
        return a * mean, (a**2 * v + s**2).sqrt()

    def ode_solution(self, x: torch.Tensor, sigma_from: float, sigma_to: float) -> torch.Tensor:
        """Exact probability-flow ODE transport of x from sigma_from to sigma_to."""
        m0, sd0 = self.marginal(sigma_from, x)
        m1, sd1 = self.marginal(sigma_to, x)
        return m1 + sd1 / sd0 * (x - m0)


class FiniteDatasetDenoiser:
    def __init__(self, points: torch.Tensor, noise_form: str = "ve", sigma_min: float = 0.002, sigma_max: float = 80.0):
        self.points, self.form = points, noise_form
        self.parameterisation = "flow" if noise_form == "flow" else "x0"
        self.sigma_min, self.sigma_max = sigma_min, (1.0 if noise_form == "flow" else sigma_max)

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **cond) -> torch.Tensor:
        y = self.points.to(x).flatten(1)  # [N, D]
        s = sigma.to(x.dtype).reshape(-1, 1)
        a = signal_scale(s, self.form)
        flat = x.flatten(1)  # [B, D]
        dist2 = ((flat[:, None, :] - a[:, None] * y[None]) ** 2).sum(-1)  # [B, N]
        w = torch.softmax(-dist2 / (2 * s**2), dim=1)
        return (w @ y).reshape(x.shape)
