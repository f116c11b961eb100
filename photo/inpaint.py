"""Inpainting a photo with a diffusion denoiser: mask 1 = repaint, 0 = keep.

The hole is prefilled (photo/prefill.py), noised to a level set by ``strength`` and
denoised on a masked model (the known region re-read at every call):
- "anneal" (default): the annealed posterior mean (samplers/repaint.py) down a geometric
  ladder of noise levels; on held-out photos it fills holes above the biharmonic fill's PSNR
  (``python -m noisekit.bench inpaint``).
- "replace": a sampler down a karras schedule, ComfyUI's noise-mask inpainting
  (samplers/sample.py's MaskedDenoiser); a soft mask m gives m * fill + (1 - m) * original.
- "repaint": the same with RePaint's resampling (samplers/repaint.py).
Only the mask's bounding box plus context is computed (crop & stitch), and where the mask
is exactly 0 the output is the input, bit for bit.
"""
from __future__ import annotations

import torch

from ..samplers import MaskedDenoiser, Sampler, add_noise, noise_form, repaint_sampler, unit_noise
from ..samplers.repaint import repaint_steps
from ..schedules import get_sigmas
from .image import image_to_model, model_device, model_to_image
from .masks import check_mask, crop_box, feather_mask, grow_mask
from .prefill import PREFILLS, fill_hole
from .tiling import TiledDenoiser, input_multiple

METHODS = ("anneal", "replace", "repaint")
ANNEAL_FLOOR = 0.02  # the annealing ladder's last sigma (2.5/255 on a [-1, 1] photo): lower levels change little


def inpaint(model, image: torch.Tensor, mask: torch.Tensor, method: str = "anneal", steps: int = 40,
            sampler=None, seed: int = 0, grow: int = 0, feather: int = 0, prefill: str = "biharmonic",
            strength: float = 0.57, context: int = 32, jump_length: int = 10, jump_n_sample: int = 2,
            tile: int = 512, progress=None) -> torch.Tensor:
    """Inpaint IMAGE [B,H,W,C] in [0, 1] where MASK [B,H,W] (or [H,W]) is 1; soft values blend.

    method "anneal" runs ``sampler`` (default annealed_mean) on the masked model down a
    geometric ladder of ``steps`` noise levels to ANNEAL_FLOOR; "replace" runs it (default
    euler_ancestral) down a karras schedule; "repaint" wraps that in repaint_sampler.
    ``strength`` < 1 starts below the model's sigma_max, keeping the prefill's layout.
    progress(done, total) is called per step.
    """
    if method not in METHODS:
        raise ValueError(f"inpaint: method must be one of {METHODS}, got {method!r}")
    if prefill not in PREFILLS:
        raise ValueError(f"inpaint: prefill must be one of {PREFILLS}, got {prefill!r}")
    if not 0 < strength <= 1:
        raise ValueError(f"inpaint: strength must be in (0, 1], got {strength}")
    if steps < 1 or grow < 0 or feather < 0 or context < 0:
        raise ValueError(f"inpaint: steps must be >= 1 and grow, feather, context >= 0; got steps={steps}, "
                         f"grow={grow}, feather={feather}, context={context}")
    if not isinstance(image, torch.Tensor) or image.ndim != 4:
        raise ValueError(f"inpaint: image must be an IMAGE tensor [B,H,W,C], got "
                         f"{getattr(image, 'shape', type(image).__name__)}")
    mask = feather_mask(grow_mask(check_mask(mask, image.shape[0], image.shape[1:3]), grow), feather)
    t, b, l, r = crop_box(mask, context)
    if b <= t:
        return image.clone()
    device = model_device(model, image.device)
    crop = image_to_model(image[:, t:b, l:r].to(device))
    m = mask[:, None, t:b, l:r].to(device, crop.dtype)
    filled = inpaint_state(model, crop, m, method, steps, sampler, seed, prefill, strength, jump_length,
                           jump_n_sample, tile, progress)
    out = image.clone()
    out[:, t:b, l:r] = model_to_image(filled).to(image)
    return torch.where(mask[..., None] == 0, image, out)  # the known region, bit for bit


def inpaint_state(model, x: torch.Tensor, m: torch.Tensor, method: str = "anneal", steps: int = 40, sampler=None,
                  seed: int = 0, prefill: str = "biharmonic", strength: float = 0.57, jump_length: int = 10,
                  jump_n_sample: int = 2, tile: int = 512, progress=None) -> torch.Tensor:
    """Inpaint a model-space state x [B,C,H,W] (pixels, or a VAE's latent) where m [B,1,H,W] is 1: the
    fill of ``inpaint`` before it returns to IMAGE; where m is 0 the result is x."""
    start = fill_hole(x, m, prefill)
    sigma_max = model.sigma_max ** strength * model.sigma_min ** (1 - strength)
    if method == "anneal":  # the floor stays inside the model's range and below a low strength's start
        floor = min(max(ANNEAL_FLOOR, model.sigma_min), sigma_max / 2)
        sigmas = get_sigmas("exponential", steps, sigma_min=floor, sigma_max=sigma_max)
    else:
        sigmas = get_sigmas("karras", steps, sigma_min=model.sigma_min, sigma_max=sigma_max)
    sigmas = sigmas.to(x.device)
    base = sampler if sampler is not None else Sampler("annealed_mean" if method == "anneal" else "euler_ancestral")
    total = steps
    if method == "repaint":
        base = repaint_sampler(base, jump_length, jump_n_sample)
        total = repaint_steps(steps, jump_length, jump_n_sample)
    step = (lambda info: progress(min(info["i"] + 1, total), total)) if progress else None
    # samplers.sample's set-up, but the prefill only seeds the start state (the known part of a soft
    # mask keeps the original) and no final re-blend (the last state is already m fill + (1 - m) original)
    noise = unit_noise(start.shape, seed, x.device, start.dtype)
    tiled = TiledDenoiser(model, tile, min(64, tile // 4), input_multiple(model))
    model_m = MaskedDenoiser(tiled, x, noise, m.expand_as(x))
    with torch.no_grad():
        state = add_noise(start, noise, sigmas[0], noise_form(model))
        return base(model_m, state, sigmas, extra_args={"seed": seed}, callback=step, disable=True)
