"""The one module that knows ComfyUI exists. Every ``comfy`` import is lazy.

Inside ComfyUI: SAMPLER values are ``comfy.samplers.KSAMPLER`` objects around
the core solver, progress goes to ``comfy.utils.ProgressBar`` (which also
raises ComfyUI's interrupt). Outside: the core ``samplers.Sampler`` and
noisekit's own progress bars.
"""
from __future__ import annotations

import sys

import torch

from .. import progress
from ..samplers import Sampler, unit_noise


def in_comfyui() -> bool:
    """True when running inside a ComfyUI server process (its modules are loaded)."""
    return "comfy.samplers" in sys.modules


class ComfyModel:
    """ComfyUI's model wrapper seen as a core Denoiser: flow models (CONST model sampling)
    are marked as such so ancestral and SDE steps use the flow form."""

    def __init__(self, model):
        self.inner = model
        sampling = _model_sampling(model)
        self.parameterisation = "flow" if _is_const(sampling) else "eps"
        self.sigma_min = float(getattr(sampling, "sigma_min", 0.0))
        self.sigma_max = float(getattr(sampling, "sigma_max", 1.0))

    def __call__(self, x, sigma, **kwargs):
        return self.inner(x, sigma, **kwargs)


def _model_sampling(model):
    inner = model
    for _ in range(3):
        if hasattr(inner, "model_sampling"):
            return inner.model_sampling
        inner = getattr(inner, "inner_model", None)
        if inner is None:
            break
    return None


def _is_const(sampling) -> bool:
    if sampling is None:
        return False
    return any(cls.__name__ == "CONST" for cls in type(sampling).__mro__)


def make_sampler(name: str, **options):
    """The SAMPLER value: a KSAMPLER inside ComfyUI, a core Sampler outside."""
    core = Sampler(name, **options)
    if not in_comfyui():
        return core
    import comfy.samplers

    def sampler_function(model, x, sigmas, extra_args=None, callback=None, disable=None, **kw):
        return core(ComfyModel(model), x, sigmas, extra_args=extra_args, callback=callback, disable=disable, **kw)

    ksampler = comfy.samplers.KSAMPLER(sampler_function)
    ksampler.noisekit_sampler = core  # so noisekit's own nodes can run it on a noisekit model
    return ksampler


class Noise:
    """A NOISE value: per-item seeded CPU noise (ComfyUI's SamplerCustomAdvanced calls generate_noise)."""

    def __init__(self, seed: int):
        self.seed = int(seed)

    def generate_noise(self, latent: dict) -> torch.Tensor:
        samples = latent["samples"]
        return unit_noise(samples.shape, self.seed, "cpu", torch.float32)


def progress_bar(total: int, desc: str = ""):
    if in_comfyui():
        import comfy.utils

        return comfy.utils.ProgressBar(total)
    return progress.progress_bar(total, desc)


def throw_if_interrupted():
    if in_comfyui():
        import comfy.model_management

        comfy.model_management.throw_exception_if_processing_interrupted()
    else:
        progress.check_interrupt()
