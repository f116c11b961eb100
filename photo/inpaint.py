"""Inpainting a photo with a diffusion denoiser: mask 1 = repaint, 0 = keep.

The hole is prefilled (photo/prefill.py), noised to a level set by ``strength`` and
denoised on a masked model (the known region re-read at every call):
- "patch" (default): the photo's own texture on the model's layout (photo/exemplar.py): the hole
  prefilled, the annealed fill run where the hole is deeper than thin (a scratch takes the prefill
  alone), the two mixed by the hole's depth, and the hole re-synthesised from the known pixels'
  patches on that smooth fill's colours. The lowest texture distance of the bench's methods, at
  the biharmonic fill's PSNR or above (``python -m noisekit.bench inpaint``).
- "anneal": the annealed posterior mean (samplers/repaint.py) down a geometric ladder of noise
  levels: the highest PSNR in wide holes, but smooth (a mean over the textures that fit).
- "replace": a sampler down a karras schedule, ComfyUI's noise-mask inpainting
  (samplers/sample.py's MaskedDenoiser); a soft mask m gives m * fill + (1 - m) * original.
- "repaint": the same with RePaint's resampling (samplers/repaint.py).
- "texture": "anneal", then a stochastic tail: the fill noised afresh to TAIL_SIGMA and sampled
  back down (dpmpp_2m_sde), then grain: white noise in the hole up to the fine-scale (gradient)
  energy per pixel of the known pixels around it. The annealed mean is blurry by design (a mean
  over the textures that fit); the tail keeps its layout but draws one texture, and the grain
  gives the hole its surroundings' fine texture, which the model's fill lacks in wide holes.
Speed: each connected region of the mask gets its own box plus context (boxes that meet are
merged); inside a box the model runs only on the tiles that hold masked pixels, batched, and the
samplers' state holds only those tiles' pixels (photo/sparse.py), so the cost follows the masked
area, not the photo. The annealed mean's high levels run on 4x or 2x coarser grids (level_scale):
at noise sigma the detail finer than the grid is drowned, and the coarse grid costs 1/16 or 1/4.
Where the mask is exactly 0 the output is the input, bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from .. import limits
from ..models.space import image_to_model, input_multiple, model_device, model_to_image
from ..samplers import JUMP_LENGTH, JUMP_N_SAMPLE, MaskedDenoiser, Sampler, add_noise, noise_form, repaint_sampler, \
    unit_noise
from ..samplers.repaint import repaint_steps
from ..schedules import get_sigmas
from .exemplar import guided, texture_fill
from .masks import check_mask, feather_mask, grow_mask, pad_box
from .params import FEATHER, GROW, INPAINT_STEPS, INPAINT_TILE, METHOD, PHOTO_BYTES_PER_PIXEL, PREFILL, STRENGTH
from .prefill import fill_hole
from .sparse import SparseDenoiser, SparseTiles

ANNEAL_FLOOR = 0.02  # the annealing ladder's last sigma (2.5/255 on a [-1, 1] photo): lower levels change little
TAIL_SIGMA, TAIL_STEPS = 0.1, 6  # "texture": the level its tail restarts from (13/255 on a photo), and its steps
COARSE_SIGMA = 0.1  # anneal: each level runs on the coarsest grid where its noise is still this (see level_scale)
COARSEST = 4  # ... at most 4x coarser
STAGE_SEED = 7919  # seed offset between the scales' runs
ANNEALED = ("patch", "anneal", "texture")  # the methods that run the annealed mean
# bf16 autocast (photo/tiling.py "auto") cost the annealed fill 0.6 (box), 0.9 (brush) and 3.7 dB (scratches) of
# hole PSNR on the held-out 256-pixel crops, on a CPU with AMX bf16: the masked model runs in float32
INPAINT_PRECISION = "fp32"
PATCH_GRID = 4  # "patch": every level of its annealed fill on a grid at least this much coarser (pixel models;
# the texture step keeps only the fill's low frequencies: 1/16 of the model's time, README "Inpainting")


@dataclass(frozen=True)
class InpaintOptions:
    """How inpaint repaints (defaults and bounds: photo/params.py).

    method "anneal" (and "patch" and "texture" before their own steps) runs ``sampler`` (default annealed_mean) on the masked model down a geometric ladder
    of ``steps`` noise levels to ANNEAL_FLOOR; "replace" runs it (default euler_ancestral) down a karras
    schedule; "repaint" wraps that in repaint_sampler. ``sampler``: a registered sampler's name, a
    k-diffusion-signature sampler, or None (the method's own). ``strength`` < 1 starts below the model's
    sigma_max, keeping the prefill's layout. ``context``: pixels around each region of the mask that the
    model sees. ``coarsest`` (1, 2 or 4) bounds how much coarser a level's grid may be (1: every level at
    full size).
    """

    method: str = METHOD.default
    steps: int = INPAINT_STEPS.default
    sampler: Any = None
    seed: int = 0
    grow: int = GROW.default
    feather: int = FEATHER.default
    prefill: str = PREFILL.default
    strength: float = STRENGTH.default
    context: int = 32
    jump_length: int = JUMP_LENGTH.default
    jump_n_sample: int = JUMP_N_SAMPLE.default
    tile: int = INPAINT_TILE.default
    coarsest: int = COARSEST

    def __post_init__(self):
        if self.method not in METHOD.choices:
            raise ValueError(f"inpaint: method must be one of {METHOD.choices}, got {self.method!r}")
        if self.prefill not in PREFILL.choices:
            raise ValueError(f"inpaint: prefill must be one of {PREFILL.choices}, got {self.prefill!r}")
        if not 0 < self.strength <= 1:
            raise ValueError(f"inpaint: strength must be in (0, 1], got {self.strength}")
        if self.steps < 1 or self.grow < 0 or self.feather < 0 or self.context < 0:
            raise ValueError(f"inpaint: steps must be >= 1 and grow, feather, context >= 0; got steps={self.steps}, "
                             f"grow={self.grow}, feather={self.feather}, context={self.context}")
        if self.coarsest < 1 or self.coarsest & (self.coarsest - 1):
            raise ValueError(f"inpaint: coarsest must be a power of 2 (1 = every level at full size), got "
                             f"{self.coarsest}")


def inpaint(model, image: torch.Tensor, mask: torch.Tensor, options: InpaintOptions = InpaintOptions(),
            progress=None) -> torch.Tensor:
    """Inpaint IMAGE [B,H,W,C] in [0, 1] where MASK [B,H,W] (or [H,W]) is 1; soft values blend.
    progress(done, total) is called per step."""
    if not isinstance(image, torch.Tensor) or image.ndim != 4:
        raise ValueError(f"inpaint: image must be an IMAGE tensor [B,H,W,C], got "
                         f"{getattr(image, 'shape', type(image).__name__)}")
    limits.check_memory(f"inpaint: a {tuple(image.shape[:3])} IMAGE", PHOTO_BYTES_PER_PIXEL * image[..., 0].numel())
    mask = feather_mask(grow_mask(check_mask(mask, image.shape[0], image.shape[1:3]), options.grow), options.feather)
    fill = lambda picture, hole, how: annealed(model, picture, hole, how, progress)
    out = patch_fill(image, mask, options, fill) if options.method == "patch" else fill(image, mask, options)
    return torch.where(mask[..., None] == 0, image, out)  # the known region, bit for bit


def patch_fill(image: torch.Tensor, mask: torch.Tensor, options: InpaintOptions, fill) -> torch.Tensor:
    """"patch" on IMAGE [B,H,W,C] where MASK [B,H,W] > 0, with ``fill(picture, hole, options)`` the model's fill
    (on the pixels, or through a VAE): the hole prefilled, the model only where it is deeper than thin, then the
    two mixed and given the photo's own texture by depth (exemplar.texture_fill)."""
    x, m = image.movedim(-1, 1), mask[:, None]
    prefilled = fill_hole(x, m, options.prefill)
    guide = fill(prefilled.movedim(1, -1), guided(m)[:, 0], replace(options, prefill="none"))
    return texture_fill(x, m, guide.movedim(-1, 1), prefilled, options.seed).movedim(1, -1)


def annealed(model, image: torch.Tensor, mask: torch.Tensor, options: InpaintOptions, progress=None) -> torch.Tensor:
    """IMAGE [B,H,W,C] with the hole (mask [B,H,W] > 0) filled by inpaint_state, box by box."""
    boxes = region_boxes(mask, options.context)
    out = image.clone()
    device = model_device(model, image.device)
    for k, (t, b, l, r) in enumerate(boxes):
        report = (lambda done, total, k=k: progress(k * total + done, len(boxes) * total)) if progress else None
        crop = image_to_model(image[:, t:b, l:r].to(device))
        m = mask[:, None, t:b, l:r].to(device, crop.dtype)
        out[:, t:b, l:r] = model_to_image(inpaint_state(model, crop, m, options, report)).to(image)
    return out


def region_boxes(mask: torch.Tensor, context: int) -> list[tuple[int, int, int, int]]:
    """(top, bottom, left, right) of each connected region of the mask plus context; boxes that overlap or
    touch are merged (painted as one picture whose regions are boxed again, until none meet)."""
    bound = lambda picture: [(rows.start, rows.stop, cols.start, cols.stop)
                             for rows, cols in ndimage.find_objects(ndimage.label(picture)[0])]
    boxes = [pad_box(box, context, mask.shape[-2:]) for box in bound((mask.amax(0) > 0).cpu().numpy())]
    while True:
        painted = np.zeros(mask.shape[-2:], dtype=bool)
        for t, b, l, r in boxes:
            painted[t:b, l:r] = True
        merged = bound(painted)
        if len(merged) == len(boxes):
            return sorted(boxes)
        boxes = merged


def inpaint_state(model, x: torch.Tensor, m: torch.Tensor, options: InpaintOptions = InpaintOptions(),
                  progress=None) -> torch.Tensor:
    """Inpaint a model-space state x [B,C,H,W] (pixels, or a VAE's latent) where m [B,1,H,W] is 1: the
    fill of ``inpaint`` before it returns to IMAGE; where m is 0 the result is x (grow, feather and
    context are inpaint's). With ``coarsest`` > 1 (pixel-space EDM models) the annealed mean runs its
    high levels on a coarser grid."""
    method, steps, sampler, seed, tile = options.method, options.steps, options.sampler, options.seed, options.tile
    sampler = Sampler(sampler) if isinstance(sampler, str) else sampler
    sigma_max = model.sigma_max ** options.strength * model.sigma_min ** (1 - options.strength)
    if method in ANNEALED:  # the floor stays inside the model's range and below a low strength's start
        floor = min(max(ANNEAL_FLOOR, model.sigma_min), sigma_max / 2)
        sigmas = get_sigmas("exponential", steps, sigma_min=floor, sigma_max=sigma_max)
    else:
        sigmas = get_sigmas("karras", steps, sigma_min=model.sigma_min, sigma_max=sigma_max)
    sigmas = sigmas.to(x.device)
    base = sampler if sampler is not None else Sampler("euler_ancestral" if method in ("replace", "repaint")
                                                       else "annealed_mean")
    total = steps + (TAIL_STEPS if method == "texture" else 0)
    if method == "repaint":
        base = repaint_sampler(base, options.jump_length, options.jump_n_sample)
        total = repaint_steps(steps, options.jump_length, options.jump_n_sample)
    step = (lambda offset: lambda info: progress(min(offset + info["i"] + 1, total), total)) if progress \
        else (lambda offset: None)
    coarsest = options.coarsest
    if sampler is not None or method not in ANNEALED or noise_form(model) != "ve":
        coarsest = 1  # only the annealed mean forgets all but its estimate between levels; VE noise averages down
    finest = min(PATCH_GRID, coarsest) if method == "patch" else 1
    factors = [max(level_scale(float(s), coarsest), finest) for s in sigmas[:-1]]
    estimate, done = fill_hole(x, m, options.prefill), 0
    for f in sorted(set(factors), reverse=True):  # coarse to fine, each scale's run of levels
        n = factors.count(f)
        xs, ms = shrink(x, f), shrink(m, f, "max")
        start = torch.where(ms > 0, shrink(estimate, f), xs)
        filled = masked_run(model, xs, ms, start, sigmas[done:done + n + 1] / f, base, seed + STAGE_SEED * (f - 1),
                            tile, step(done))
        estimate = filled if f == 1 else torch.where(m > 0, enlarge(filled, x.shape[-2:]), x)
        done += n
    if method == "texture":
        tail = get_sigmas("karras", TAIL_STEPS, sigma_min=model.sigma_min,
                          sigma_max=min(TAIL_SIGMA, float(sigmas[0]))).to(x.device)
        estimate = masked_run(model, x, m, estimate, tail, Sampler("dpmpp_2m_sde"), seed + 1, tile, step(steps))
        estimate = match_grain(estimate, m, unit_noise(x.shape, seed + 2, x.device, x.dtype))
    return estimate


def level_scale(sigma: float, coarsest: int) -> int:
    """The factor f (1, 2, 4, ... up to ``coarsest``) of the coarsest grid on which a level's noise, sigma / f
    once f x f pixels are averaged, is still at least COARSE_SIGMA: finer detail than that grid is drowned
    at this level, and the grid costs 1 / f^2 of the model's time."""
    f = 1
    while 2 * f <= coarsest and sigma / (2 * f) >= COARSE_SIGMA:
        f *= 2
    return f


def shrink(x: torch.Tensor, f: int, how: str = "mean") -> torch.Tensor:
    """x on the grid f times coarser: f x f means (white noise of std s becomes s / f), or maxima (a mask:
    a coarse pixel is in the hole if any of its pixels is)."""
    if f == 1:
        return x
    pool = F.avg_pool2d if how == "mean" else F.max_pool2d
    return pool(x, f, ceil_mode=True)


def enlarge(x: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def masked_run(model, x: torch.Tensor, m: torch.Tensor, start: torch.Tensor, sigmas: torch.Tensor, sampler,
               seed: int, tile: int, callback=None) -> torch.Tensor:
    """``sampler`` from ``start`` noised to sigmas[0], on the masked model, computed only on the tiles that
    touch the hole: samplers.sample's set-up, but the prefill only seeds the start state (the known part of
    a soft mask keeps the original) and no final re-blend (the last state is already m fill + (1 - m) x)."""
    tiles = SparseTiles(m.amax((0, 1)) > 0, tile, min(64, tile // 8))
    xs, ms = tiles.gather(x), tiles.gather(m).expand(x.shape[0], x.shape[1], -1)
    noise = unit_noise(xs.shape, seed, x.device, x.dtype)
    model_m = MaskedDenoiser(SparseDenoiser(model, tiles, input_multiple(model), precision=INPAINT_PRECISION), xs,
                             noise, ms)
    with torch.no_grad():
        state = add_noise(tiles.gather(start), noise, sigmas[0], noise_form(model))
        filled = sampler(model_m, state, sigmas, extra_args={"seed": seed}, callback=callback, disable=True)
    return tiles.scatter(filled, x)


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
