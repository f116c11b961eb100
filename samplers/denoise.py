"""Photo denoising with a diffusion denoiser.

A noisy 8-bit photo is, to the model, the state x at noise level sigma: in model
space ([-1, 1]) a noise std of s on the [0, 1] scale is sigma = 2 s. "one_step"
returns D(x, sigma), the MMSE estimate (highest PSNR); "sample" runs a sampler
from sigma down a Karras schedule (sharper, more detail, slightly lower PSNR).
"""
from __future__ import annotations

import torch

from ..schedules import get_sigmas
from .estimate import estimate_sigma
from .tiling import TiledDenoiser, input_multiple

MODES = ("one_step", "sample")


def photo_to_model_sigma(sigma01: float) -> float:
    return 2.0 * sigma01


def denoise(model, image: torch.Tensor, sigma="auto", mode: str = "one_step", steps: int = 8,
            sampler=None, seed: int = 0, tile: int = 512, overlap: int = 64, on_tile=None) -> torch.Tensor:
    """Denoise IMAGE [B,H,W,3] in [0, 1]; ``sigma`` is "auto" or the noise std on the [0, 1] scale."""
    from . import Sampler

    if mode not in MODES:
        raise ValueError(f"denoise: mode must be one of {MODES}, got {mode!r}")
    s01 = estimate_sigma(image) if sigma == "auto" else float(sigma)
    if not 0 < s01 < 1:
        raise ValueError(f"denoise: sigma must be in (0, 1) on the [0, 1] scale (e.g. 25/255), got {s01}")
    sigma_m = photo_to_model_sigma(s01)
    device = next(model.parameters()).device if isinstance(model, torch.nn.Module) else image.device
    x = (image.movedim(-1, 1) * 2 - 1).to(device)
    tiled = TiledDenoiser(model, tile, overlap, input_multiple(model), on_tile)
    with torch.no_grad():
        if mode == "one_step":
            out = tiled(x, torch.full((x.shape[0],), sigma_m, device=device))
        else:
            sigmas = get_sigmas("karras", steps, sigma_min=min(model.sigma_min * 10, sigma_m / 2),
                                sigma_max=sigma_m).to(device)
            sampler = sampler if sampler is not None else Sampler("dpmpp_2m")
            out = sampler(tiled, x, sigmas, extra_args={"seed": seed}, disable=True)
    return ((out.movedim(1, -1) + 1) / 2).clamp(0, 1).to(image.device, image.dtype)
