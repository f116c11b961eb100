"""Sampling from noise or from a start image, with an optional inpainting mask."""
from __future__ import annotations

import torch

from .denoiser import noise_form
from .forward import add_noise
from .noise import unit_noise


class MaskedDenoiser:
    """ComfyUI's noise-mask inpainting (KSamplerX0Inpaint): where mask = 0 the state is
    replaced by the original, noised to the current sigma, before each model call, and the
    model's estimate there by the original itself."""

    def __init__(self, model, latent, noise, mask):
        self.model, self.latent, self.noise, self.mask = model, latent, noise, mask
        self.sigma_min, self.sigma_max = getattr(model, "sigma_min", 0.0), getattr(model, "sigma_max", 1.0)
        self.parameterisation = getattr(model, "parameterisation", "x0")

    def __call__(self, x, sigma, **kwargs):
        known = add_noise(self.latent, self.noise, sigma, noise_form(self.model))
        x = x * self.mask + known * (1 - self.mask)
        return self.model(x, sigma, **kwargs) * self.mask + self.latent * (1 - self.mask)


def sample(model, sigmas: torch.Tensor, sampler, seed: int = 0, latent: torch.Tensor | None = None,
           shape=None, denoise_mask: torch.Tensor | None = None, callback=None, disable=None,
           noise: torch.Tensor | None = None) -> torch.Tensor:
    """Draw seeded noise, put it on ``latent`` (zeros if None) at sigmas[0], and run ``sampler``.

    ``sampler`` is a k-diffusion-signature function or a samplers.Sampler. With
    ``denoise_mask`` (1 = repaint) the known region follows the original and the result
    equals ``latent`` exactly where the mask is 0.
    """
    if latent is None:
        if shape is None:
            raise ValueError("sample: give a latent/start image or a shape")
        latent = torch.zeros(shape, dtype=torch.float32)
    if len(sigmas) < 2:
        return latent.clone()
    if noise is None:
        noise = unit_noise(latent.shape, seed, latent.device, latent.dtype)
    x = add_noise(latent, noise, sigmas[0], noise_form(model))
    if denoise_mask is not None:
        mask = denoise_mask.to(latent).expand_as(latent)
        model = MaskedDenoiser(model, latent, noise, mask)
    out = sampler(model, x, sigmas, extra_args={"seed": seed}, callback=callback, disable=disable)
    if denoise_mask is not None:
        out = torch.where(mask == 0, latent, out)  # the final state is already the soft blend
    return out
