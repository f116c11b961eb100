"""Model-free sigma schedules.

Each function returns a float64, descending 1-D tensor of ``steps + 1`` noise
levels whose last entry is exactly 0 (the clean image). The formulas are the
published ones, as k-diffusion / ComfyUI compute them:

- karras: Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based
  Generative Models" (EDM), eq. 5.
- exponential, polyexponential, vp, laplace: k-diffusion (Crowson); vp is the
  VP-SDE of Song et al. 2021, "Score-Based Generative Modeling through SDEs";
  laplace follows Hang et al. 2024, "Improved Noise Schedule for Diffusion Training".
- kl_optimal: Sabour, Fidler & Kreis 2024, "Align Your Steps", the KL-optimal
  schedule of its appendix (uniform steps in atan(sigma)).
- beta: Lee et al. 2024, "Beta Sampling is All You Need" (arXiv:2407.12173).
- linear_quadratic: Genmo's Mochi 1 (2024) schedule, as ComfyUI defines it.
- flow: rectified flow with the time shift of Esser et al. 2024 (SD3),
  "Scaling Rectified Flow Transformers for High-Resolution Image Synthesis".

Argument checks live in ``schedules/__init__.py`` next to the declared Params.
"""
from __future__ import annotations

import math

import torch

F64 = torch.float64


def append_zero(sigmas: torch.Tensor) -> torch.Tensor:
    return torch.cat([sigmas, sigmas.new_zeros(1)])


def karras(steps: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> torch.Tensor:
    """Karras et al. 2022 (EDM): sigma^(1/rho) evenly spaced from sigma_max to sigma_min."""
    ramp = torch.linspace(0, 1, steps, dtype=F64)
    hi, lo = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    return append_zero((hi + ramp * (lo - hi)) ** rho)


def exponential(steps: int, sigma_min: float, sigma_max: float) -> torch.Tensor:
    """Evenly spaced in log sigma (the rho -> infinity limit of karras)."""
    return append_zero(torch.linspace(math.log(sigma_max), math.log(sigma_min), steps, dtype=F64).exp())


def polyexponential(steps: int, sigma_min: float, sigma_max: float, rho: float = 1.0) -> torch.Tensor:
    """log sigma = log sigma_min + ramp^rho (log sigma_max - log sigma_min), ramp from 1 to 0."""
    ramp = torch.linspace(1, 0, steps, dtype=F64) ** rho
    return append_zero((math.log(sigma_min) + ramp * (math.log(sigma_max) - math.log(sigma_min))).exp())


def vp(steps: int, beta_d: float = 19.9, beta_min: float = 0.1, eps_s: float = 1e-3) -> torch.Tensor:
    """Song et al. 2021 VP-SDE: sigma(t) = sqrt(exp(beta_d t^2 / 2 + beta_min t) - 1), t from 1 to eps_s."""
    t = torch.linspace(1, eps_s, steps, dtype=F64)
    return append_zero(torch.special.expm1(beta_d * t**2 / 2 + beta_min * t).sqrt())


def laplace(steps: int, sigma_min: float, sigma_max: float, mu: float = 0.0, beta: float = 0.5) -> torch.Tensor:
    """log sigma at the quantiles of Laplace(mu, beta), clamped to [sigma_min, sigma_max] (k-diffusion).

    The quantile of level x is mu - beta sign(0.5 - x) log(1 - 2|0.5 - x|), with k-diffusion's
    1e-5 inside the log so that the end levels 0 and 1 stay finite. The clamp repeats
    sigma_max / sigma_min where the distribution's tails reach past the range (always the
    first and last level; more of them at many steps or a narrow range): the one
    schedule here that is not strictly descending. noisekit's samplers skip such
    zero-length steps.
    """
    x = torch.linspace(0, 1, steps, dtype=F64)
    log_sigma = mu - beta * torch.sign(0.5 - x) * torch.log(1 - 2 * (0.5 - x).abs() + 1e-5)
    return append_zero(log_sigma.exp().clamp(sigma_min, sigma_max))


def linear(steps: int, sigma_min: float, sigma_max: float) -> torch.Tensor:
    """Evenly spaced in sigma."""
    return append_zero(torch.linspace(sigma_max, sigma_min, steps, dtype=F64))


def kl_optimal(steps: int, sigma_min: float, sigma_max: float) -> torch.Tensor:
    """Sabour et al. 2024: evenly spaced in atan(sigma), the KL-optimal schedule."""
    w = torch.linspace(0, 1, steps, dtype=F64)
    return append_zero(torch.tan(w * math.atan(sigma_min) + (1 - w) * math.atan(sigma_max)))


def beta(steps: int, sigma_min: float, sigma_max: float, alpha: float = 0.6, beta: float = 0.6) -> torch.Tensor:
    """Lee et al. 2024 "Beta sampling": time points at Beta(alpha, beta) quantiles.

    As ComfyUI's beta scheduler: the quantile levels are 1, 1 - 1/steps, ..., 1/steps
    (the final level 0 is the jump to sigma = 0) and t = ppf(level) in [0, 1] indexes a
    model's noise levels. Model-free, those are ComfyUI's table for continuous (EDM) models,
    log sigma linear in t from sigma_min to sigma_max; t stays fractional here rather than
    being rounded to 1000 entries, so no step is lost to repeated entries. The first sigma is
    sigma_max; the last nonzero one is at t = ppf(1/steps), above sigma_min.
    """
    from scipy.stats import beta as beta_distribution

    levels = 1 - torch.arange(steps, dtype=F64) / steps
    t = torch.from_numpy(beta_distribution.ppf(levels.numpy(), alpha, beta))
    return append_zero((math.log(sigma_min) + t * (math.log(sigma_max) - math.log(sigma_min))).exp())


def linear_quadratic(steps: int, sigma_max: float = 1.0, threshold_noise: float = 0.025,
                     linear_steps: int = 0) -> torch.Tensor:
    """Mochi's schedule as ComfyUI's linear_quadratic: the noise removed, 1 - sigma/sigma_max,
    rises linearly to threshold_noise over the first linear_steps steps (0: steps // 2), then
    along the quadratic through that point, with the same slope there, that reaches 1 at the end."""
    if steps == 1:
        return torch.tensor([sigma_max, 0.0], dtype=F64)
    n = linear_steps or steps // 2
    q = steps - n
    gap = n - threshold_noise * steps
    quad = gap / (n * q**2)
    lin = threshold_noise / n - 2 * gap / q**2
    i = torch.arange(steps + 1, dtype=F64)
    removed = torch.where(i < n, i * threshold_noise / n, quad * i**2 + lin * i + quad * n**2)
    removed[-1] = 1.0  # the end point exactly, not up to rounding
    return (1 - removed) * sigma_max


def flow_shift_sigmas(sigmas: torch.Tensor, shift: float) -> torch.Tensor:
    """Rectified-flow time shift (Esser et al. 2024): sigma' = s sigma / (1 + (s - 1) sigma).

    Keeps 0 and 1 fixed; s > 1 spends more steps at high noise (SD3 uses s = 3).
    """
    return shift * sigmas / (1 + (shift - 1) * sigmas)


def flow(steps: int, shift: float = 3.0, sigma_max: float = 1.0) -> torch.Tensor:
    """Rectified flow: sigma evenly spaced from sigma_max to 0, then time-shifted."""
    return flow_shift_sigmas(torch.linspace(sigma_max, 0, steps + 1, dtype=F64), shift)
