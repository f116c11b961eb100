"""Samplers for inpainting on a masked model (samplers/sample.py's MaskedDenoiser, or ComfyUI's
noise mask): RePaint's resampling around any sampler, and the annealed posterior mean.

- ``repaint_sampler(base)``: RePaint (Lugmayr et al. 2022). After each jump of ``jump_length``
  steps the state is re-noised back up and the jump redone, ``jump_n_sample`` times, so the
  fill harmonises with its surroundings. It wraps any sampler, so it also runs inside ComfyUI.
- ``sample_annealed_mean``: at each noise level the last estimate is noised afresh and replaced
  by the model's denoising (the posterior mean); the known region is re-read at every call.
"""
from __future__ import annotations

import math

from .denoiser import noise_form, signal_scale
from .forward import add_noise
from .noise import NoiseSampler
from .solvers import Run

PASS_STRIDE = 0x9E3779B1  # seed offset between RePaint passes (a base sampler seeds its noise from extra_args)
RENOISE_STREAM = 7919  # separates the re-noising draws from the base sampler's own noise


def renoise(x, sigma_lo, sigma_hi, form, z):
    """Forward q(x_hi | x_lo) for sigma_hi > sigma_lo, in either noise form."""
    a_lo, a_hi = signal_scale(sigma_lo, form), signal_scale(sigma_hi, form)
    scale = a_hi / a_lo
    return scale * x + (sigma_hi**2 - (scale * sigma_lo) ** 2).clamp(min=0).sqrt() * z


def repaint_steps(n: int, jump_length: int, jump_n_sample: int, ends_at_zero: bool = True) -> int:
    """Sampler steps RePaint runs over an n-step schedule (the last jump, ending at sigma 0, runs once)."""
    last = n - (math.ceil(n / jump_length) - 1) * jump_length if ends_at_zero else 0
    return n + (jump_n_sample - 1) * (n - last)


def repaint_sampler(base, jump_length: int = 10, jump_n_sample: int = 2):
    """RePaint resampling (Lugmayr et al. 2022) around any k-diffusion-signature sampler ``base``.

    The schedule is walked in jumps of ``jump_length`` steps; each jump is sampled, its end
    re-noised back to its start with q(x_hi | x_lo) and sampled again, ``jump_n_sample`` times
    in all (the final jump to sigma 0 once). Run it on a masked model (samplers.sample's
    denoise_mask, or ComfyUI's noise mask) so every pass re-reads the known region. Each pass
    gets its own seed so repeats draw fresh noise.
    """
    if jump_length < 1 or jump_n_sample < 1:
        raise ValueError(f"repaint_sampler: jump_length and jump_n_sample must be >= 1, got {jump_length}, "
                         f"{jump_n_sample}")

    def sampler(model, x, sigmas, extra_args=None, callback=None, disable=None):
        extra_args = dict(extra_args or {})
        seed = int(extra_args.get("seed") or 0)
        form = noise_form(model)
        n, done = len(sigmas) - 1, 0
        for k, start in enumerate(range(0, n, jump_length)):
            part = sigmas[start:min(n, start + jump_length) + 1]
            repeats = jump_n_sample if part[-1] > 0 else 1
            for r in range(repeats):
                pass_seed = seed + PASS_STRIDE * (k * jump_n_sample + r + 1)

                def step(info, offset=done):
                    if callback is not None:
                        callback({**info, "i": offset + info["i"]})

                x = base(model, x, part, extra_args={**extra_args, "seed": pass_seed}, callback=step, disable=True)
                done += len(part) - 1
                if r < repeats - 1:
                    x = renoise(x, part[-1], part[0], form, NoiseSampler(x, pass_seed + RENOISE_STREAM)())
        return x

    return sampler


def sample_annealed_mean(model, x, sigmas, extra_args=None, callback=None, disable=None, draws=1):
    """Annealed posterior mean: at each sigma after the first, the estimate is the denoising
    (averaged over ``draws``) of the previous estimate noised afresh to that sigma.

    Unlike an ancestral step, no noise is carried over: each level starts from the last
    posterior-mean estimate, so on a masked model the fill settles into its surroundings
    level by level (the known region is re-read at every call). NFE = 1 + (len(sigmas) - 2) * draws.
    """
    if draws < 1:
        raise ValueError(f"annealed_mean: draws must be >= 1, got {draws}")
    run = Run("annealed_mean", model, x, sigmas, extra_args, callback, disable)
    noise, estimate = run.noise_sampler(x), None
    for i in run:
        sigma, total, n = run.sigmas[i], 0, 1 if estimate is None else draws
        for _ in range(n):
            if estimate is not None:
                x = add_noise(estimate, noise(), sigma, run.form)
            total = total + run.denoised(x, sigma)
        estimate = total / n
        run.report(i, x, estimate)
    return x if estimate is None else estimate
