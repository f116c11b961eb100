"""Photo denoising with a diffusion denoiser.

A noisy photo is, to the model, the state x at noise level sigma: no extra
noise is added. In model space ([-1, 1]) a noise std of s on the [0, 1] scale
is sigma = 2 s. "one_step" returns D(x, sigma), the MMSE estimate E[x0 | x]
(highest PSNR); "sample" runs a sampler from sigma down a Karras schedule to
the model's sigma_min and then 0 (sharper detail, slightly lower PSNR).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .. import limits
from ..models.space import image_to_model, input_multiple, model_device, model_to_image
from ..samplers import Sampler
from ..schedules import get_sigmas
from .noise_level import check_sigma, noise_level, reading_of
from .params import (DENOISE_SAMPLER, DENOISE_STEPS, DENOISE_STRENGTH, DENOISE_TILE, MODE, PHOTO_BYTES_PER_PIXEL,
                     PRECISION)
from .tiling import TiledDenoiser


@dataclass(frozen=True)
class DenoiseOptions:
    """How denoise_photo works (defaults and bounds: photo/params.py).

    sigma: "auto" (estimated per photo) or the noise std on the [0, 1] scale (photo/noise_level.py).
    sampler: for mode "sample", a registered sampler's name or a k-diffusion-signature sampler.
    seed: item i uses seed + i, as samplers.noise does. overlap: None is tile // 8.
    precision: "auto" (bf16 autocast on a CPU with native bf16) or "fp32".
    strength: multiplies the noise level (more than 1 removes more).
    """

    sigma: float | str = "auto"
    mode: str = MODE.default
    steps: int = DENOISE_STEPS.default
    sampler: Any = DENOISE_SAMPLER.default
    seed: int = 0
    tile: int = DENOISE_TILE.default
    overlap: int | None = None
    precision: str = PRECISION.default
    strength: float = DENOISE_STRENGTH.default

    def __post_init__(self):
        if self.mode not in MODE.choices:
            raise ValueError(f"denoise: mode must be one of {MODE.choices}, got {self.mode!r}")
        check_sigma(self.sigma)
        if isinstance(self.strength, bool) or not isinstance(self.strength, (int, float)) or not self.strength > 0:
            raise ValueError(f"denoise: strength must be a number above 0 (1 = the noise level as estimated or "
                             f"given), got {self.strength!r}")
        if self.mode == "sample" and self.steps < 1:
            raise ValueError(f"denoise: steps must be >= 1 in sample mode, got {self.steps}")


class TileProgress:
    """Reports (done, total) in units of tiles x steps: tiles advance it within a step, the
    sampler's step callback snaps it to the step's end (so samplers with several model calls
    per step still count once per step)."""

    def __init__(self, report, tiles: int, total: int):
        self.report, self.tiles, self.total, self.done, self.ceiling = report, tiles, total, 0, tiles

    def tile(self):
        if self.done < self.ceiling:
            self.done += 1
            self.report(self.done, self.total)

    def step_end(self):
        self.done = self.ceiling
        self.report(self.done, self.total)
        self.ceiling = min(self.total, self.ceiling + self.tiles)


def denoise_photo(model, image: torch.Tensor, options: DenoiseOptions = DenoiseOptions(),
                  progress=None) -> torch.Tensor:
    """Denoise IMAGE [B,H,W,C] in [0, 1] (C = 3, or any C the model takes), each item at its own noise level;
    same shape and dtype out. progress(done, total): called per tile."""
    if not isinstance(image, torch.Tensor) or image.ndim != 4:
        raise ValueError(f"denoise: image must be an IMAGE tensor [B,H,W,C], got "
                         f"{getattr(image, 'shape', type(image).__name__)}")
    limits.check_memory(f"denoise: a {tuple(image.shape[:3])} IMAGE", PHOTO_BYTES_PER_PIXEL * image[..., 0].numel())
    device = model_device(model, image.device)
    overlap = options.tile // 8 if options.overlap is None else options.overlap
    tiled = TiledDenoiser(model, options.tile, overlap, input_multiple(model), precision=options.precision)
    tiles = tiled.count(*image.shape[1:3])
    per_item = tiles * (options.steps if options.mode == "sample" else 1)
    out = []
    for i, item in enumerate(image):
        tracker = TileProgress((lambda d, t, base=i * per_item: progress(base + d, per_item * len(image)))
                               if progress else (lambda d, t: None), tiles, per_item)
        tiled.on_tile = tracker.tile
        sigma = noise_level(item, options.sigma, options.strength, reading_of(model)).in_model(model)
        x = image_to_model(item[None]).to(device)
        x0 = denoise_state(tiled, x, sigma, options.mode, options.steps, options.sampler, options.seed + i,
                           callback=lambda info, t=tracker: t.step_end())
        out.append(model_to_image(x0)[0])
    return torch.stack(out).to(image.device, image.dtype)


def denoise_state(model, x: torch.Tensor, sigma: float, mode: str = MODE.default, steps: int = DENOISE_STEPS.default,
                  sampler=DENOISE_SAMPLER.default, seed: int = 0, callback=None) -> torch.Tensor:
    """Denoise a model-space state x [B,C,H,W] (pixels, or a VAE's latent) seen as noisy at ``sigma``:
    "one_step" is D(x, sigma); "sample" runs ``sampler`` down a karras schedule from sigma to 0."""
    with torch.no_grad():
        if mode == "one_step":
            return model(x, torch.full((x.shape[0],), sigma, device=x.device, dtype=x.dtype))
        sigmas = get_sigmas("karras", steps, sigma_min=min(model.sigma_min, sigma), sigma_max=sigma).to(x.device)
        sampler = Sampler(sampler) if isinstance(sampler, str) else sampler
        return sampler(model, x, sigmas, extra_args={"seed": seed}, callback=callback, disable=True)
