"""Inpainting a photo with a diffusion denoiser: mask 1 = repaint, 0 = keep.

The hole is prefilled (photo/prefill.py), noised to a level set by ``strength`` and
denoised on a masked model (the known region re-read at every call):
- "anneal" (default): the annealed posterior mean (samplers/repaint.py) down a geometric
  ladder of noise levels; on held-out photos it fills holes above the biharmonic fill's PSNR
  (``python -m noisekit.bench inpaint``).
- "replace": a sampler down a karras schedule, ComfyUI's noise-mask inpainting
  (samplers/sample.py's MaskedDenoiser); a soft mask m gives m * fill + (1 - m) * original.
- "repaint": the same with RePaint's resampling (samplers/repaint.py).
- "texture": "anneal", then a stochastic tail: the fill noised afresh to TAIL_SIGMA and sampled
  back down (dpmpp_2m_sde), then grain: white noise in the hole up to the fine-scale (gradient)
  energy per pixel of the known pixels around it. The annealed mean is blurry by design (a mean
  over the textures that fit); the tail keeps its layout but draws one texture, and the grain
  gives the hole its surroundings' fine texture, which the model's fill lacks in wide holes.
Each connected region of the mask gets its own box plus context (boxes that touch are merged),
and inside a box only the tiles that hold masked pixels are computed, so the cost follows the
masked area, not the photo. Where the mask is exactly 0 the output is the input, bit for bit.
"""
from __future__ import annotations

import torch
from scipy import ndimage

from ..samplers import MaskedDenoiser, Sampler, add_noise, noise_form, repaint_sampler, unit_noise
from ..samplers.repaint import repaint_steps
from ..schedules import get_sigmas
from .image import image_to_model, model_device, model_to_image
from .masks import check_mask, crop_box, feather_mask, grow_mask
from .prefill import PREFILLS, fill_hole
from .tiling import TiledDenoiser, input_multiple

METHODS = ("anneal", "texture", "replace", "repaint")
METHODS_HELP = ("anneal: annealed posterior mean (highest PSNR, smooth in wide holes of fine texture); texture: "
                "anneal, then a short stochastic tail that restores grain (sharper, lower PSNR); replace: sampling "
                "(varies with the seed); repaint: replace plus RePaint resampling")
ANNEAL_FLOOR = 0.02  # the annealing ladder's last sigma (2.5/255 on a [-1, 1] photo): lower levels change little
TAIL_SIGMA, TAIL_STEPS = 0.1, 6  # "texture": the level its tail restarts from (13/255 on a photo), and its steps


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
    boxes = region_boxes(mask, context)
    out = image.clone()
    device = model_device(model, image.device)
    for k, (t, b, l, r) in enumerate(boxes):
        report = (lambda done, total, k=k: progress(k * total + done, len(boxes) * total)) if progress else None
        crop = image_to_model(image[:, t:b, l:r].to(device))
        m = mask[:, None, t:b, l:r].to(device, crop.dtype)
        filled = inpaint_state(model, crop, m, method, steps, sampler, seed, prefill, strength, jump_length,
                               jump_n_sample, tile, report)
        out[:, t:b, l:r] = model_to_image(filled).to(image)
    return torch.where(mask[..., None] == 0, image, out)  # the known region, bit for bit


def region_boxes(mask: torch.Tensor, context: int) -> list[tuple[int, int, int, int]]:
    """(top, bottom, left, right) of each connected region of the mask plus context; overlapping boxes merged."""
    labels, _ = ndimage.label((mask.amax(0) > 0).cpu().numpy())
    boxes = [crop_box(torch.from_numpy(labels == k), context) for k in range(1, labels.max() + 1)]
    while True:  # merge any two overlapping boxes until none overlap
        pair = next(((i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes))
                     if boxes[i][0] < boxes[j][1] and boxes[j][0] < boxes[i][1]
                     and boxes[i][2] < boxes[j][3] and boxes[j][2] < boxes[i][3]), None)
        if pair is None:
            return sorted(boxes)
        a, b = boxes[pair[0]], boxes.pop(pair[1])
        boxes[pair[0]] = (min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]))


def inpaint_state(model, x: torch.Tensor, m: torch.Tensor, method: str = "anneal", steps: int = 40, sampler=None,
                  seed: int = 0, prefill: str = "biharmonic", strength: float = 0.57, jump_length: int = 10,
                  jump_n_sample: int = 2, tile: int = 512, progress=None) -> torch.Tensor:
    """Inpaint a model-space state x [B,C,H,W] (pixels, or a VAE's latent) where m [B,1,H,W] is 1: the
    fill of ``inpaint`` before it returns to IMAGE; where m is 0 the result is x."""
    start = fill_hole(x, m, prefill)
    sigma_max = model.sigma_max ** strength * model.sigma_min ** (1 - strength)
    if method in ("anneal", "texture"):  # the floor stays inside the model's range and below a low strength's start
        floor = min(max(ANNEAL_FLOOR, model.sigma_min), sigma_max / 2)
        sigmas = get_sigmas("exponential", steps, sigma_min=floor, sigma_max=sigma_max)
    else:
        sigmas = get_sigmas("karras", steps, sigma_min=model.sigma_min, sigma_max=sigma_max)
    sigmas = sigmas.to(x.device)
    base = sampler if sampler is not None else Sampler("euler_ancestral" if method in ("replace", "repaint")
                                                       else "annealed_mean")
    total = steps + (TAIL_STEPS if method == "texture" else 0)
    if method == "repaint":
        base = repaint_sampler(base, jump_length, jump_n_sample)
        total = repaint_steps(steps, jump_length, jump_n_sample)
    step = (lambda info, offset=0: progress(min(offset + info["i"] + 1, total), total)) if progress else None
    # samplers.sample's set-up, but the prefill only seeds the start state (the known part of a soft
    # mask keeps the original) and no final re-blend (the last state is already m fill + (1 - m) original)
    noise = unit_noise(start.shape, seed, x.device, start.dtype)
    tiled = TiledDenoiser(model, tile, min(64, tile // 4), input_multiple(model), where=m.amax(0, keepdim=True) > 0)
    model_m = MaskedDenoiser(tiled, x, noise, m.expand_as(x))
    with torch.no_grad():
        state = add_noise(start, noise, sigmas[0], noise_form(model))
        filled = base(model_m, state, sigmas, extra_args={"seed": seed}, callback=step, disable=True)
        if method == "texture":
            tail = get_sigmas("karras", TAIL_STEPS, sigma_min=model.sigma_min,
                              sigma_max=min(TAIL_SIGMA, float(sigmas[0]))).to(x.device)
            state = add_noise(filled, unit_noise(start.shape, seed + 1, x.device, start.dtype), tail[0],
                              noise_form(model))
            filled = Sampler("dpmpp_2m_sde")(model_m, state, tail, extra_args={"seed": seed + 1}, disable=True,
                                             callback=step and (lambda info: step(info, steps)))
            filled = match_grain(filled, m, unit_noise(start.shape, seed + 2, x.device, start.dtype))
    return filled


def gradient_energy(x: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """Mean over pixel pairs inside ``region`` of squared differences (x and y summed) per [B, C]."""
    dy, ry = x[..., 1:, :] - x[..., :-1, :], region[..., 1:, :] * region[..., :-1, :]
    dx, rx = x[..., 1:] - x[..., :-1], region[..., 1:] * region[..., :-1]
    mean = lambda d, r: (d.square() * r).sum((-2, -1)) / r.sum((-2, -1)).clamp(min=1)
    return mean(dy, ry) + mean(dx, rx)


def match_grain(x: torch.Tensor, m: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """x plus white noise m * s * z in the hole, s per channel so that the hole's gradient energy reaches
    the known pixels' (white noise of variance v adds 4 v to it)."""
    known, hole = (m == 0).to(x), (m == 1).to(x)
    deficit = (gradient_energy(x, known) - gradient_energy(x, hole)).clamp(min=0)
    return x + m * (deficit / 4).sqrt()[..., None, None] * z
