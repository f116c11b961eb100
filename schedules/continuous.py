"""Model-free sigma schedules. Each returns a float64 descending tensor of
length steps + 1 whose last entry is 0 (the clean image)."""
from __future__ import annotations

import math

import torch

F64 = torch.float64


def append_zero(sigmas: torch.Tensor) -> torch.Tensor:
    return torch.cat([sigmas, sigmas.new_zeros(1)])


def karras(steps: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> torch.Tensor:
    """Karras et al. 2022 (EDM) eq. 5: interpolate sigma^(1/rho) linearly."""
    ramp = torch.linspace(0, 1, steps, dtype=F64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return append_zero((hi + ramp * (lo - hi)) ** rho)


def exponential(steps: int, sigma_min: float, sigma_max: float) -> torch.Tensor:
    """Evenly spaced in log sigma."""
    return append_zero(torch.linspace(math.log(sigma_max), math.log(sigma_min), steps, dtype=F64).exp())


def polyexponential(steps: int, sigma_min: float, sigma_max: float, rho: float = 1.0) -> torch.Tensor:
    """log sigma follows a polynomial ramp^rho from log sigma_max to log sigma_min."""
    ramp = torch.linspace(1, 0, steps, dtype=F64) ** rho
    return append_zero((ramp * (math.log(sigma_max) - math.log(sigma_min)) + math.log(sigma_min)).exp())


def vp(steps: int, beta_d: float = 19.9, beta_min: float = 0.1, eps_s: float = 1e-3) -> torch.Tensor:
    """Song et al. 2021 VP-SDE: sigma(t) = sqrt(exp(beta_d t^2 / 2 + beta_min t) - 1), t from 1 to eps_s."""
    t = torch.linspace(1, eps_s, steps, dtype=F64)
    return append_zero(torch.special.expm1(beta_d * t**2 / 2 + beta_min * t).sqrt())


def laplace(steps: int, sigma_min: float, sigma_max: float, mu: float = 0.0, beta: float = 0.5) -> torch.Tensor:
    """Hang et al. 2024: log sigma at Laplace(mu, beta) quantiles, clamped to [sigma_min, sigma_max].

    The clamp can repeat sigma_max/sigma_min at the ends; samplers skip such zero-length steps.
    """
    x = torch.linspace(0, 1, steps, dtype=F64)
    log_sigma = mu - beta * torch.sign(0.5 - x) * torch.log(1 - 2 * (0.5 - x).abs() + 1e-5)
    return append_zero(log_sigma.exp().clamp(sigma_min, sigma_max))


def linear(steps: int, sigma_min: float, sigma_max: float) -> torch.Tensor:
    """Evenly spaced in sigma."""
    return append_zero(torch.linspace(sigma_max, sigma_min, steps, dtype=F64))


def kl_optimal(steps: int, sigma_min: float, sigma_max: float) -> torch.Tensor:
    """Sabour et al. 2024 ("Align Your Steps" appendix): evenly spaced in atan(sigma)."""
    w = torch.linspace(0, 1, steps, dtype=F64)
    return append_zero(torch.tan(w * math.atan(sigma_min) + (1 - w) * math.atan(sigma_max)))


def beta(steps: int, sigma_min: float, sigma_max: float, alpha: float = 0.6, beta: float = 0.6) -> torch.Tensor:
    """Lee et al. 2024 "Beta sampling": time points at Beta(alpha, beta) quantiles, mapped to log sigma."""
    from scipy.stats import beta as beta_dist

    t = torch.from_numpy(beta_dist.ppf(torch.linspace(1, 0, steps, dtype=F64).numpy(), alpha, beta))
    return append_zero((math.log(sigma_min) + t * (math.log(sigma_max) - math.log(sigma_min))).exp())


def linear_quadratic(steps: int, sigma_max: float = 1.0, threshold_noise: float = 0.025,
                     linear_steps: int = 0) -> torch.Tensor:
    """Mochi's schedule (Genmo 2024, as ComfyUI's linear_quadratic): 1 - sigma rises linearly
    to threshold_noise over linear_steps (0 = steps // 2), then quadratically to 1."""
    if steps == 1:
        return torch.tensor([sigma_max, 0.0], dtype=F64)
    n = linear_steps or steps // 2
    q = steps - n
    slope_gap = n - threshold_noise * steps
    quad = slope_gap / (n * q**2)
    lin = threshold_noise / n - 2 * slope_gap / q**2
    const = quad * n**2
    i = torch.arange(steps, dtype=F64)
    rise = torch.where(i < n, i * threshold_noise / n, quad * i**2 + lin * i + const)
    return torch.cat([1 - rise, torch.zeros(1, dtype=F64)]) * sigma_max


def flow_shift_sigmas(sigmas: torch.Tensor, shift: float) -> torch.Tensor:
    """Rectified-flow time shift (SD3, Esser et al. 2024): s' = shift s / (1 + (shift - 1) s)."""
    return shift * sigmas / (1 + (shift - 1) * sigmas)


def flow(steps: int, shift: float = 3.0, sigma_max: float = 1.0) -> torch.Tensor:
    """Rectified-flow schedule: sigma evenly spaced from sigma_max to 0, then time-shifted."""
    return flow_shift_sigmas(torch.linspace(sigma_max, 0, steps + 1, dtype=F64), shift)
