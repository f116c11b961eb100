"""Inpainting with a diffusion denoiser: mask 1 = repaint, 0 = keep.

- "replace": at every model call the known region is the original noised to the
  current sigma (ComfyUI's noise-mask inpainting, samplers.sample's MaskedDenoiser).
- "repaint": the same, with RePaint's resampling (Lugmayr et al. 2022): after each
  jump of ``jump_length`` steps the state is re-noised back up and the jump redone,
  ``jump_n_sample`` times, so the fill harmonises with its surroundings.
Only the mask's bounding box plus context is sampled (crop & stitch), and where
the mask is exactly 0 the output is the input, bit for bit.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..models.base import noise_form, signal_scale
from ..schedules import get_sigmas
from .noise import NoiseSampler
from .tiling import TiledDenoiser, input_multiple

METHODS = ("replace", "repaint")
PREFILLS = ("none", "mean", "diffuse")


def grow_mask(mask: torch.Tensor, expand: int, tapered_corners: bool = True) -> torch.Tensor:
    """Grey dilation (expand > 0) or erosion (< 0), one pixel per step; tapered = cross kernel."""
    m = mask.reshape(-1, 1, *mask.shape[-2:])
    kernel = [[0, 1, 0], [1, 1, 1], [0, 1, 0]] if tapered_corners else [[1] * 3] * 3
    offsets = [(dy - 1, dx - 1) for dy in range(3) for dx in range(3) if kernel[dy][dx]]
    for _ in range(abs(expand)):
        padded = F.pad(m, (1, 1, 1, 1), mode="replicate")
        shifted = torch.stack([padded[..., 1 + dy:1 + dy + m.shape[-2], 1 + dx:1 + dx + m.shape[-1]]
                               for dy, dx in offsets])
        m = shifted.amax(0) if expand > 0 else shifted.amin(0)
    return m.reshape(mask.shape)


def feather_mask(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Soften the mask edge outwards over ``radius`` pixels (the inside stays 1)."""
    if radius <= 0:
        return mask
    m = mask.reshape(-1, 1, *mask.shape[-2:])
    grown = grow_mask(m, radius)
    k = 2 * radius + 1
    blurred = F.avg_pool2d(F.pad(grown, (radius,) * 4, mode="replicate"), k, stride=1)
    return torch.maximum(m, blurred * (grown > 0)).reshape(mask.shape)


def diffuse_fill(x: torch.Tensor, known: torch.Tensor, iterations: int = 200) -> torch.Tensor:
    """Harmonic fill of the unknown region (Laplace's equation, known pixels fixed),
    solved coarse-to-fine so big holes converge in few Jacobi sweeps."""
    if min(x.shape[-2:]) > 16:
        coarse_x = F.avg_pool2d(x * known, 2, ceil_mode=True)
        coarse_k = F.avg_pool2d(known, 2, ceil_mode=True)
        coarse = diffuse_fill(coarse_x / coarse_k.clamp(min=1e-6), (coarse_k > 0).to(x), iterations)
        x = torch.where(known > 0, x, F.interpolate(coarse, size=x.shape[-2:], mode="bilinear"))
    kernel = torch.tensor([[0, 0.25, 0], [0.25, 0, 0.25], [0, 0.25, 0]], dtype=x.dtype, device=x.device)
    kernel = kernel.expand(x.shape[1], 1, 3, 3)
    for _ in range(iterations if min(x.shape[-2:]) <= 16 else 20):
        neighbours = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=x.shape[1])
        x = torch.where(known > 0, x, neighbours)
    return x


def prefill(x: torch.Tensor, mask: torch.Tensor, how: str) -> torch.Tensor:
    known = (mask == 0).to(x)
    if how == "none":
        return x
    if how == "mean":
        mean = (x * known).sum((-2, -1), keepdim=True) / known.sum((-2, -1), keepdim=True).clamp(min=1)
        return torch.where(known > 0, x, mean)
    if how == "diffuse":
        return diffuse_fill(x, known)
    raise ValueError(f"inpaint: prefill must be one of {PREFILLS}, got {how!r}")


def renoise(x, sigma_lo, sigma_hi, form, z):
    """Forward q(x_hi | x_lo) for sigma_hi > sigma_lo, in either noise form."""
    a_lo, a_hi = signal_scale(sigma_lo, form), signal_scale(sigma_hi, form)
    scale = a_hi / a_lo
    return scale * x + (sigma_hi**2 - (scale * sigma_lo) ** 2).clamp(min=0).sqrt() * z


def sample_repaint(model, x, sigmas, extra_args=None, callback=None, disable=None, base="euler_ancestral",
                   jump_length=10, jump_n_sample=2):
    """RePaint resampling around any base sampler: each run of ``jump_length`` steps is sampled,
    re-noised back to its start and sampled again, ``jump_n_sample`` times in all."""
    from . import SAMPLERS

    fn = SAMPLERS.get(base).fn
    form = noise_form(model)
    seed = (extra_args or {}).get("seed")
    noise = NoiseSampler(x, None if seed is None else seed + 7919)
    n = len(sigmas) - 1
    for start in range(0, n, jump_length):
        part = sigmas[start:min(n, start + jump_length) + 1]
        for r in range(jump_n_sample):
            x = fn(model, x, part, extra_args=extra_args, callback=callback, disable=True)
            if r < jump_n_sample - 1 and part[-1] > 0:
                x = renoise(x, part[-1], part[0], form, noise())
    return x


def crop_box(mask: torch.Tensor, context: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the mask's bounding box plus context (and a quarter of its size)."""
    rows = torch.nonzero(mask.reshape(-1, *mask.shape[-2:]).amax(0) > 0)
    h, w = mask.shape[-2:]
    if len(rows) == 0:
        return 0, 0, 0, 0
    (t, l), (b, r) = rows.min(0).values.tolist(), (rows.max(0).values + 1).tolist()
    pad = lambda size: context + math.ceil(size / 4)
    t, b = max(0, t - pad(b - t)), min(h, b + pad(b - t))
    l, r = max(0, l - pad(r - l)), min(w, r + pad(r - l))
    return t, b, l, r


def inpaint(model, image: torch.Tensor, mask: torch.Tensor, method: str = "repaint", steps: int = 30,
            sampler=None, seed: int = 0, grow: int = 0, feather: int = 0, prefill_with: str = "diffuse",
            strength: float = 1.0, context: int = 32, jump_length: int = 10, jump_n_sample: int = 2,
            tile: int = 512, on_step=None) -> torch.Tensor:
    """Inpaint IMAGE [B,H,W,3] in [0, 1] where MASK [B,H,W] (or [H,W]) is 1."""
    from . import Sampler, sample

    if method not in METHODS:
        raise ValueError(f"inpaint: method must be one of {METHODS}, got {method!r}")
    if not 0 < strength <= 1:
        raise ValueError(f"inpaint: strength must be in (0, 1], got {strength}")
    mask = mask.reshape(-1, *mask.shape[-2:]).expand(image.shape[0], *image.shape[1:3]).clamp(0, 1)
    mask = feather_mask(grow_mask(mask, grow) if grow else mask, feather)
    t, b, l, r = crop_box(mask, context)
    if b <= t:
        return image.clone()
    device = next(model.parameters()).device if isinstance(model, torch.nn.Module) else image.device
    crop = image[:, t:b, l:r].movedim(-1, 1).to(device) * 2 - 1
    m = mask[:, None, t:b, l:r].to(device)
    start = prefill(crop, m, prefill_with)
    sigma_max = model.sigma_max if strength >= 1 else model.sigma_max ** strength * model.sigma_min ** (1 - strength)
    sigmas = get_sigmas("karras", steps, sigma_min=model.sigma_min, sigma_max=sigma_max).to(device)
    base = sampler if sampler is not None else Sampler("euler_ancestral")
    if method == "repaint":
        base_name = getattr(base, "name", "euler_ancestral")
        base = Sampler("repaint", base=base_name, jump_length=jump_length, jump_n_sample=jump_n_sample)
    tiled = TiledDenoiser(model, tile, 64, input_multiple(model))
    with torch.no_grad():
        filled = sample(tiled, sigmas, base, seed=seed, latent=start, denoise_mask=m,
                        callback=(lambda info: on_step()) if on_step else None, disable=True)
    out = image.clone()
    patch = ((filled.movedim(1, -1) + 1) / 2).clamp(0, 1).to(image)
    soft = mask[:, t:b, l:r, None].to(image)
    out[:, t:b, l:r] = patch * soft + image[:, t:b, l:r] * (1 - soft)
    return torch.where(mask[..., None] == 0, image, out)
