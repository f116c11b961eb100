"""Discrete-time (DDPM-family) schedules: betas, alphas_cumprod, sigmas, timesteps.

A DDPM model trained on T timesteps (Ho et al. 2020, "Denoising Diffusion
Probabilistic Models") with cumulative products alphas_cumprod is, in
k-diffusion's variance-exploding view, a denoiser at the T noise levels
sigma_t = sqrt((1 - alphas_cumprod_t) / alphas_cumprod_t), ascending in t.
Between integer timesteps, log sigma is interpolated linearly (as k-diffusion's
DiscreteSchedule and ComfyUI's ModelSamplingDiscrete do).

Timestep spacings pick ``steps`` of the T timesteps, as ComfyUI's schedulers
("normal", "simple", "sgm_uniform", "ddim_uniform") and diffusers'
``timestep_spacing`` ("leading", "trailing", "linspace"; Lin et al. 2024,
"Common Diffusion Noise Schedules and Sample Steps are Flawed", Table 2) define them.
"""
from __future__ import annotations

import math

import torch

F64 = torch.float64
BETA_SCHEDULES = ("linear", "scaled_linear", "cosine", "sqrt")


def make_betas(schedule: str, num_train_timesteps: int = 1000, beta_start: float = 0.00085,
               beta_end: float = 0.012) -> torch.Tensor:
    """The T betas of a named schedule, float64.

    linear: DDPM's linspace(beta_start, beta_end). scaled_linear: Stable Diffusion's,
    linear in sqrt(beta). sqrt: sqrt(linspace(beta_start, beta_end)) (latent-diffusion's
    "sqrt"). cosine: iDDPM (Nichol & Dhariwal 2021, "Improved DDPM", eq. 17) alpha-bar(t) =
    cos^2((t/T + s) / (1 + s) * pi/2) with s = 0.008, beta_t = 1 - abar(t+1)/abar(t) clipped at
    0.999; it ignores beta_start and beta_end.
    """
    T = int(num_train_timesteps)
    if T < 2:
        raise ValueError(f"make_betas: num_train_timesteps must be >= 2, got {num_train_timesteps}")
    if schedule == "linear":
        betas = torch.linspace(beta_start, beta_end, T, dtype=F64)
    elif schedule == "scaled_linear":
        betas = torch.linspace(beta_start**0.5, beta_end**0.5, T, dtype=F64) ** 2
    elif schedule == "sqrt":
        betas = torch.linspace(beta_start, beta_end, T, dtype=F64).sqrt()
    elif schedule == "cosine":
        s = 0.008
        abar = torch.cos((torch.arange(T + 1, dtype=F64) / T + s) / (1 + s) * math.pi / 2) ** 2
        betas = (1 - abar[1:] / abar[:-1]).clamp(max=0.999)
    else:
        raise ValueError(f"make_betas: schedule must be one of {BETA_SCHEDULES}, got {schedule!r}")
    if not (0 < betas.min() and betas.max() < 1):
        raise ValueError(f"make_betas: every beta must be in (0, 1); beta_start={beta_start} and "
                         f"beta_end={beta_end} give {float(betas.min()):g}..{float(betas.max()):g}")
    return betas


def betas_to_alphas_cumprod(betas: torch.Tensor) -> torch.Tensor:
    """alphas_cumprod_t = prod_{s <= t} (1 - beta_s)."""
    return torch.cumprod(1 - betas.to(F64), dim=0)


def alphas_cumprod_to_sigmas(alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """sigma = sqrt((1 - abar) / abar): the VE noise level of x / sqrt(abar)."""
    ac = alphas_cumprod.to(F64)
    return ((1 - ac) / ac).sqrt()


def sigmas_to_alphas_cumprod(sigmas: torch.Tensor) -> torch.Tensor:
    """abar = 1 / (1 + sigma^2), the inverse of alphas_cumprod_to_sigmas."""
    return 1 / (1 + sigmas.to(F64) ** 2)


def model_sigmas(beta_schedule: str = "scaled_linear", num_train_timesteps: int = 1000,
                 beta_start: float = 0.00085, beta_end: float = 0.012) -> torch.Tensor:
    """The ascending table of T sigmas of a DDPM model trained with these betas (default: SD1.x/SDXL)."""
    return alphas_cumprod_to_sigmas(betas_to_alphas_cumprod(
        make_betas(beta_schedule, num_train_timesteps, beta_start, beta_end)))


def _out_dtype(x: torch.Tensor) -> torch.dtype:
    return torch.promote_types(x.dtype, torch.float32) if x.is_floating_point() else F64


def sigma_to_timestep(sigma, model_sigmas: torch.Tensor) -> torch.Tensor:
    """Fractional timestep t with log sigma_t = log sigma, log sigma linear between integer t.

    ``model_sigmas`` is the model's ascending table (``alphas_cumprod_to_sigmas``).
    Sigmas outside the table clamp to t = 0 or t = T - 1. The answer is on sigma's device,
    float64 for float64 input (else float32).
    """
    sigma = torch.as_tensor(sigma)
    log_table = model_sigmas.to(F64).log()
    log_s = sigma.to(device=log_table.device, dtype=F64).log().clamp(log_table[0], log_table[-1])
    hi = torch.searchsorted(log_table, log_s).clamp(1, len(log_table) - 1)
    lo = hi - 1
    t = lo + (log_s - log_table[lo]) / (log_table[hi] - log_table[lo])
    return t.to(device=sigma.device, dtype=_out_dtype(sigma))


def timestep_to_sigma(t, model_sigmas: torch.Tensor) -> torch.Tensor:
    """sigma at a fractional timestep t in [0, T - 1] (clamped), interpolated linearly in log sigma."""
    t = torch.as_tensor(t)
    log_table = model_sigmas.to(F64).log()
    tt = t.to(device=log_table.device, dtype=F64).clamp(0, len(log_table) - 1)
    lo, hi = tt.floor().long(), tt.ceil().long()
    w = tt - lo
    sigma = ((1 - w) * log_table[lo] + w * log_table[hi]).exp()
    sigma = torch.where(w == 0, model_sigmas.to(F64)[lo], sigma)  # integer t: the table entry itself
    return sigma.to(device=t.device, dtype=_out_dtype(t))


# Timestep spacings: the descending (possibly fractional) timesteps a sampler visits.

def normal_timesteps(steps: int, T: int) -> torch.Tensor:
    """ComfyUI "normal": `steps` timesteps evenly spaced from T - 1 to 0 (fractional)."""
    return torch.linspace(T - 1, 0, steps, dtype=F64)


def sgm_uniform_timesteps(steps: int, T: int) -> torch.Tensor:
    """ComfyUI "sgm_uniform" (Stability's sgm): steps + 1 evenly spaced from T - 1 to 0, t = 0 dropped."""
    return torch.linspace(T - 1, 0, steps + 1, dtype=F64)[:-1]


def simple_timesteps(steps: int, T: int) -> torch.Tensor:
    """ComfyUI "simple": t_i = T - 1 - floor(i T / steps), every (T/steps)-th timestep from the top."""
    stride = T / steps
    return torch.tensor([T - 1 - int(i * stride) for i in range(steps)], dtype=F64)


def ddim_uniform_timesteps(steps: int, T: int) -> torch.Tensor:
    """ComfyUI "ddim_uniform" (the DDIM repository's "uniform"): 1, 1 + c, 1 + 2c, ... < T with c = T // steps,
    descending.

    Like ComfyUI, this gives ceil((T - 1) / c) timesteps: more than ``steps`` when T is not a multiple of
    steps (e.g. 8 for 7 steps of 1000)."""
    return torch.arange(1, T, max(T // steps, 1), dtype=F64).flip(0)


def leading_timesteps(steps: int, T: int, steps_offset: int = 1) -> torch.Tensor:
    """diffusers "leading" (the DDIM paper's): i * (T // steps) + steps_offset, i = steps-1 .. 0.

    Stable Diffusion's scheduler configs set steps_offset = 1.
    """
    return (torch.arange(steps - 1, -1, -1, dtype=F64) * (T // steps) + steps_offset)


def trailing_timesteps(steps: int, T: int) -> torch.Tensor:
    """diffusers "trailing" (Lin et al. 2024): round(T - i T / steps) - 1, i = 0 .. steps-1; starts at T - 1."""
    return (T - torch.arange(steps, dtype=F64) * (T / steps)).round() - 1


def linspace_timesteps(steps: int, T: int) -> torch.Tensor:
    """diffusers "linspace": round(linspace(0, T - 1, steps)), descending; starts at T - 1, ends at 0."""
    return torch.linspace(0, T - 1, steps, dtype=F64).round().flip(0)


SPACINGS = {
    "normal": normal_timesteps,
    "sgm_uniform": sgm_uniform_timesteps,
    "simple": simple_timesteps,
    "ddim_uniform": ddim_uniform_timesteps,
    "leading": leading_timesteps,
    "trailing": trailing_timesteps,
    "linspace": linspace_timesteps,
}
