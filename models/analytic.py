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

GaussianMixtureDenoiser: data from a mixture of diagonal Gaussians, an exact denoiser
that is not linear in x (the responsibilities move along the way), so sampler errors
are measured where real models are hard; its probability-flow ODE has no closed form
and ``probability_flow`` (samplers/ode.py) solves it to a tolerance.
"""
from __future__ import annotations

import math

import torch

from ..samplers.denoiser import signal_scale
from ..samplers.ode import probability_flow


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


class GaussianMixtureDenoiser:
    """Exact VE denoiser of data x0 ~ sum_k w_k N(means_k, diag(stds_k^2)) (items flattened).

    Given x = x0 + sigma eps, component k has x ~ N(mu_k, v_k + sigma^2) per element; D(x) is
    the responsibility-weighted sum of the components' Gaussian posterior means.
    """

    def __init__(self, means, stds, weights=None, sigma_min: float = 0.002, sigma_max: float = 80.0):
        self.means = torch.as_tensor(means, dtype=torch.float64)  # [K, D]
        self.stds = torch.as_tensor(stds, dtype=torch.float64).expand_as(self.means)
        k = self.means.shape[0]
        weights = torch.full((k,), 1.0 / k, dtype=torch.float64) if weights is None else torch.as_tensor(weights)
        self.log_weights = (weights / weights.sum()).double().log()
        self.form, self.parameterisation = "ve", "x0"
        self.sigma_min, self.sigma_max = sigma_min, sigma_max
        self.calls = 0

    def components(self, x: torch.Tensor, sigma: torch.Tensor):
        """(responsibilities [B, K], per-component posterior means [B, K, D]) at noise level sigma [B]."""
        flat = x.flatten(1)[:, None, :]  # [B, 1, D]
        mu, v = self.means.to(flat), self.stds.to(flat) ** 2
        total = v + sigma.to(flat).reshape(-1, 1, 1) ** 2  # [B, K, D]
        log_lik = -0.5 * (((flat - mu) ** 2 / total) + total.log()).sum(-1)
        resp = torch.softmax(log_lik + self.log_weights.to(flat), dim=1)
        return resp, mu + v / total * (flat - mu)

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **cond) -> torch.Tensor:
        self.calls += 1
        resp, post = self.components(x, sigma.reshape(-1).expand(x.shape[0]))
        return (resp[:, :, None] * post).sum(1).reshape(x.shape)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n data points [n, D]."""
        k = torch.multinomial(self.log_weights.exp(), n, replacement=True, generator=generator)
        return self.means[k] + self.stds[k] * torch.randn(n, self.means.shape[1], generator=generator, dtype=torch.float64)

    def to_zero(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        """The ODE's endpoint at sigma = 0 from a small sigma: each component's exact Gaussian
        transport mu + sqrt(v / (v + sigma^2)) (x - mu), weighted by the responsibilities (exact
        once sigma is far below the distance between components, when one of them owns x)."""
        flat = x.flatten(1)
        resp, _ = self.components(x, flat.new_full((x.shape[0],), sigma))
        mu, v = self.means.to(flat), self.stds.to(flat) ** 2
        moved = mu + (v / (v + sigma**2)).sqrt() * (flat[:, None, :] - mu)
        return (resp[:, :, None] * moved).sum(1).reshape(x.shape)

    def ode_solution(self, x: torch.Tensor, sigma_from: float, sigma_to: float, rtol: float = 1e-10) -> torch.Tensor:
        """The probability-flow ODE transport of x from sigma_from to sigma_to (0 allowed): a
        tight DOP853 solve in log sigma down to max(sigma_to, sigma_end), then ``to_zero``."""
        sigma_end = 1e-3 * float(self.stds.min())
        if sigma_to >= sigma_end:
            return probability_flow(self, x, sigma_from, sigma_to, rtol)
        return self.to_zero(probability_flow(self, x, sigma_from, sigma_end, rtol), sigma_end)


# ---- exact problems shared by the sampler tests and benchmarks -------------------------------

def rms(a: torch.Tensor, b: torch.Tensor) -> float:
    """Root-mean-square difference."""
    return float(((a - b) ** 2).mean().sqrt())


def gaussian_problem(shape=(1, 4, 64, 64)):
    """(GaussianDenoiser, eps): x0 ~ N(m, diag s^2) in float64, s log-uniform in [0.1, 1.5]."""
    g = torch.Generator().manual_seed(0)
    std = torch.empty(shape, dtype=torch.float64).uniform_(math.log(0.1), math.log(1.5), generator=g).exp()
    mean = 0.5 * torch.randn(shape, generator=g, dtype=torch.float64)
    eps = torch.randn(shape, generator=g, dtype=torch.float64)
    return GaussianDenoiser(mean, std), eps


def start_and_exact(model: GaussianDenoiser, eps: torch.Tensor, sigma0: float):
    """(x at sigma0, its exact ODE endpoint at 0) for the Gaussian problem's unit noise ``eps``."""
    return model.mean + (model.std**2 + sigma0**2).sqrt() * eps, model.mean + model.std * eps


def mixture(dim: int, components: int, std_range: tuple, spread: float = 1.0, seed: int = 0):
    """A GaussianMixtureDenoiser with random means (N(0, spread^2)), diagonal stds log-uniform in
    ``std_range`` and random weights in [0.5, 1.5] (normalised)."""
    g = torch.Generator().manual_seed(seed)
    means = spread * torch.randn(components, dim, generator=g, dtype=torch.float64)
    lo, hi = math.log(std_range[0]), math.log(std_range[1])
    stds = torch.empty(components, dim, dtype=torch.float64).uniform_(lo, hi, generator=g).exp()
    weights = torch.empty(components, dtype=torch.float64).uniform_(0.5, 1.5, generator=g)
    return GaussianMixtureDenoiser(means, stds, weights)


def mixture_start(model: GaussianMixtureDenoiser, n: int, sigma0: float, seed: int = 1) -> torch.Tensor:
    """n noisy states at sigma0: data points plus sigma0 unit noise, [n, D] float64."""
    g = torch.Generator().manual_seed(seed)
    x0 = model.sample(n, g)
    return x0 + sigma0 * torch.randn(x0.shape, generator=g, dtype=torch.float64)
