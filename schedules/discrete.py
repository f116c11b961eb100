"""Discrete-time (DDPM-family) schedules: betas, alphas_cumprod, sigmas, timesteps.

A DDPM model trained on T timesteps with cumulative products alphas_cumprod
(Ho et al. 2020) is, in k-diffusion's VE view, a denoiser at the T noise levels
sigma_t = sqrt((1 - alphas_cumprod_t) / alphas_cumprod_t), ascending in t.
"""
from __future__ import annotations

import math

import torch

BETA_SCHEDULES = ("linear", "scaled_linear", "cosine", "sqrt")


def make_betas(schedule: str, num_train_timesteps: int = 1000, beta_start: float = 0.00085,
               beta_end: float = 0.012) -> torch.Tensor:
    """Betas of a named schedule, float64.

    linear: DDPM's linspace(beta_start, beta_end); scaled_linear: Stable Diffusion's
    linspace in sqrt(beta), squared; cosine: iDDPM (Nichol & Dhariwal 2021) alpha-bar
    cos^2((t/T + s)/(1 + s) pi/2), s = 0.008, each beta clipped at 0.999;
    sqrt: sqrt of linspace(beta_start, beta_end).
    """
    T = int(num_train_timesteps)
    if T < 2:
        raise ValueError(f"make_betas: num_train_timesteps must be >= 2, got {num_train_timesteps}")
    if schedule == "linear":
        return torch.linspace(beta_start, beta_end, T, dtype=torch.float64)
    if schedule == "scaled_linear":
        return torch.linspace(beta_start**0.5, beta_end**0.5, T, dtype=torch.float64) ** 2
    if schedule == "sqrt":
        return torch.linspace(beta_start, beta_end, T, dtype=torch.float64).sqrt()
    if schedule == "cosine":
        t = torch.arange(T + 1, dtype=torch.float64) / T
        alpha_bar = torch.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
        return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=0.999)
    raise ValueError(f"make_betas: beta_schedule must be one of {BETA_SCHEDULES}, got {schedule!r}")


def betas_to_alphas_cumprod(betas: torch.Tensor) -> torch.Tensor:
    return torch.cumprod(1 - betas.to(torch.float64), dim=0)


def alphas_cumprod_to_sigmas(alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """sigma = sqrt((1 - abar) / abar), ascending with the timestep."""
    ac = alphas_cumprod.to(torch.float64)
    return ((1 - ac) / ac).sqrt()


def sigmas_to_alphas_cumprod(sigmas: torch.Tensor) -> torch.Tensor:
    """abar = 1 / (1 + sigma^2), the inverse of alphas_cumprod_to_sigmas."""
    return 1 / (1 + sigmas.to(torch.float64) ** 2)


def sigma_to_timestep(sigma: torch.Tensor, model_sigmas: torch.Tensor) -> torch.Tensor:
    """Fractional timestep whose log-sigma matches, by linear interpolation of log sigma_t."""
    log_table = model_sigmas.to(torch.float64).log()
    log_s = torch.as_tensor(sigma, dtype=torch.float64).log().clamp(log_table[0], log_table[-1])
    hi = torch.searchsorted(log_table, log_s).clamp(1, len(log_table) - 1)
    lo = hi - 1
    w = (log_s - log_table[lo]) / (log_table[hi] - log_table[lo])
    return (lo + w).to(torch.float64)


def timestep_to_sigma(t: torch.Tensor, model_sigmas: torch.Tensor) -> torch.Tensor:
    """sigma at a fractional timestep, interpolated in log sigma."""
    log_table = model_sigmas.to(torch.float64).log()
    t = torch.as_tensor(t, dtype=torch.float64).clamp(0, len(log_table) - 1)
    lo = t.floor().long().clamp(max=len(log_table) - 2)
    w = t - lo
    return ((1 - w) * log_table[lo] + w * log_table[lo + 1]).exp()


def model_sigmas(beta_schedule: str = "scaled_linear", num_train_timesteps: int = 1000,
                 beta_start: float = 0.00085, beta_end: float = 0.012) -> torch.Tensor:
    """The ascending sigma table of a DDPM model trained with the given betas."""
    return alphas_cumprod_to_sigmas(betas_to_alphas_cumprod(
        make_betas(beta_schedule, num_train_timesteps, beta_start, beta_end)))


# Timestep spacings: how a sampler picks `steps` of the T training timesteps.

def normal_timesteps(steps: int, T: int) -> torch.Tensor:
    """ComfyUI "normal": evenly spaced fractional timesteps from T-1 down to 0."""
    return torch.linspace(T - 1, 0, steps, dtype=torch.float64)


def sgm_uniform_timesteps(steps: int, T: int) -> torch.Tensor:
    """ComfyUI "sgm_uniform" (SGM/SDXL): steps+1 evenly spaced, the last (t=0) dropped."""
    return torch.linspace(T - 1, 0, steps + 1, dtype=torch.float64)[:-1]


def simple_timesteps(steps: int, T: int) -> torch.Tensor:
    """ComfyUI "simple": every T/steps-th timestep counted down from the top."""
    stride = T / steps
    return torch.tensor([T - 1 - int(i * stride) for i in range(steps)], dtype=torch.float64)


def ddim_uniform_timesteps(steps: int, T: int) -> torch.Tensor:
    """ComfyUI "ddim_uniform": t = 1, 1 + c, 1 + 2c, ... (c = T // steps), descending.

    Like ComfyUI, this can yield a few more than `steps` timesteps when T is not a
    multiple of steps.
    """
    stride = max(T // steps, 1)
    return torch.arange(1, T, stride, dtype=torch.float64).flip(0)


def leading_timesteps(steps: int, T: int, steps_offset: int = 1) -> torch.Tensor:
    """diffusers "leading" (DDIM paper): (0, c, 2c, ...) + offset with c = T // steps."""
    return (torch.arange(steps, dtype=torch.float64) * (T // steps) + steps_offset).clamp(max=T - 1).flip(0)


def trailing_timesteps(steps: int, T: int) -> torch.Tensor:
    """diffusers "trailing" (Lin et al. 2024): round(arange(T, 0, -T/steps)) - 1."""
    return (torch.arange(T, 0, -T / steps, dtype=torch.float64).round() - 1)[:steps]


def linspace_timesteps(steps: int, T: int) -> torch.Tensor:
    """diffusers "linspace": linspace(0, T-1, steps) rounded, descending."""
    return torch.linspace(0, T - 1, steps, dtype=torch.float64).round().flip(0)


SPACINGS = {
    "normal": normal_timesteps,
    "sgm_uniform": sgm_uniform_timesteps,
    "simple": simple_timesteps,
    "ddim_uniform": ddim_uniform_timesteps,
    "leading": leading_timesteps,
    "trailing": trailing_timesteps,
    "linspace": linspace_timesteps,
}
