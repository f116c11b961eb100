"""Denoising and inpainting through a VAE, for models that work on its latent (inside ComfyUI, any checkpoint
behind a GUIDER): the photo, or the box around the mask plus context, is encoded at its working size
(photo/stitch.py), worked on as a state by denoise_state / inpaint_state, decoded and, for inpainting,
blended back with the feathered mask.

The model is reached through ``run(latent, seed, fn)``, which returns ``fn(denoiser, latent)`` computed with
the model as a Denoiser in the latent's space (inside ComfyUI: nodes/adapter.run_guided on the GUIDER), so
nothing here knows ComfyUI.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

import torch

from .denoise import DenoiseOptions, denoise_state
from .inpaint import InpaintOptions, inpaint_state, patch_fill
from .masks import crop_box, feather_mask, grow_mask
from .noise_level import noise_level
from .params import RESOLUTION
from .stitch import Box, fit_box, from_work, latent_mask, stitch, to_work, work_size

Run = Callable[[torch.Tensor, int, Callable], torch.Tensor]
UNTILED = 1 << 16  # a tile wider than any latent: the state is worked on whole (the model's host budgets memory)


def compression(vae) -> int:
    """How many pixels a latent pixel stands for, per side (1: the latent is the pixels)."""
    return int(vae.spacial_compression_encode()) if hasattr(vae, "spacial_compression_encode") else 8


def vae_multiple(vae) -> int:
    """Pixel sizes a VAE and its model like: 8 latent pixels (a UNet's downsampling) times its compression."""
    return 8 * compression(vae)


def encode_box(vae, image: torch.Tensor, box: Box, resolution: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """(latent, work size): the box of IMAGE at its working size, padded to the VAE's multiple, encoded."""
    t, b, l, r = box
    size = work_size(b - t, r - l, resolution)
    return vae.encode(to_work(image[:, t:b, l:r], size, vae_multiple(vae))), size


def decode_box(vae, latent: torch.Tensor, size: tuple[int, int], box: Box) -> torch.Tensor:
    """The latent decoded, its padding cut off, resized back to the box."""
    return from_work(vae.decode(latent).float(), size, box)


def denoise_latent(vae, run: Run, image: torch.Tensor, options: DenoiseOptions = DenoiseOptions(),
                   resolution: int = RESOLUTION.default) -> torch.Tensor:
    """Each photo of IMAGE [B,H,W,C] encoded whole, denoised as a state at its noise level, decoded."""
    box = (0, image.shape[1], 0, image.shape[2])
    out = []
    for i, item in enumerate(image):
        level = noise_level(item, options.sigma, options.strength)

        def denoise(model, x, seed=options.seed + i, level=level):
            return denoise_state(model, x, level.in_model(model), options.mode, options.steps, options.sampler, seed)

        latent, size = encode_box(vae, item[None], box, resolution)
        out.append(decode_box(vae, run(latent, options.seed + i, denoise), size, box)[0])
    return torch.stack(out).to(image)


def inpaint_latent(vae, run: Run, image: torch.Tensor, mask: torch.Tensor, options: InpaintOptions = InpaintOptions(),
                   resolution: int = RESOLUTION.default, progress=None) -> torch.Tensor:
    """IMAGE [B,H,W,C] repainted where MASK [B,H,W] is 1: the mask's box plus context, grown to the VAE's
    multiple, encoded, inpainted as a whole state, decoded and blended back with the feathered mask. "patch"
    takes the pixel route's steps (photo/inpaint.py): the prefilled photo is encoded, the model fills only the
    deep part of the hole, and the decoded fill gets the photo's own texture (photo/exemplar.py)."""
    mask = feather_mask(grow_mask(mask, options.grow), options.feather)
    fill = lambda picture, hole, how: latent_fill(vae, run, picture, hole, how, resolution, progress)
    return patch_fill(image, mask, options, fill) if options.method == "patch" else fill(image, mask, options)


def latent_fill(vae, run: Run, image: torch.Tensor, mask: torch.Tensor, options: InpaintOptions, resolution: int,
                progress=None) -> torch.Tensor:
    """IMAGE with the hole (MASK > 0) filled by inpaint_state on the latent of the hole's box plus context.
    A latent that is the pixels (ratio 1: Load Model (noisekit)'s VAE) keeps the coarser grids of the pixel
    route; a compressed latent is worked on at its own size."""
    box = crop_box(mask, options.context)
    if box[1] <= box[0]:
        return image.clone()
    box = fit_box(box, image.shape[1:3], vae_multiple(vae))
    t, b, l, r = box
    latent, size = encode_box(vae, image, box, resolution)
    work_mask = to_work(mask[:, t:b, l:r, None], size, vae_multiple(vae), pad="zeros")[..., 0]
    whole = replace(options, tile=UNTILED, coarsest=options.coarsest if compression(vae) == 1 else 1)

    def inpaint(model, x):
        return inpaint_state(model, x, latent_mask(work_mask, x.shape[-2:]).to(x), whole, progress)

    return stitch(image, decode_box(vae, run(latent, options.seed, inpaint), size, box), mask, box)
