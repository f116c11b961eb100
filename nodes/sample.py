"""Sample: MODEL + SIGMAS + SAMPLER + seed -> image, without ComfyUI's conditioning stack."""
from __future__ import annotations

import torch

from ..samplers import Sampler, sample
from . import compat
from .spec import SEED, NodeError, check_image, check_mask, image_to_model, model_to_image, node_errors

CATEGORY = "noisekit/samplers"


def check_model(node: str, model):
    if not callable(model) or not hasattr(model, "sigma_max"):
        raise NodeError(node, "model", "expected a noisekit model (Load Model (noisekit)); for ComfyUI checkpoints "
                                       "use SamplerCustom with a noisekit SAMPLER and SIGMAS")
    return model


def check_sampler(node: str, sampler):
    """The core Sampler behind a SAMPLER value (inside ComfyUI noisekit's KSAMPLERs carry it)."""
    if sampler is None:
        return None
    core = getattr(sampler, "noisekit_sampler", sampler)
    if not isinstance(core, Sampler):
        raise NodeError(node, "sampler", "connect a noisekit sampler node (ComfyUI's own samplers cannot run here)")
    return core


def step_callback(total: int):
    """A k-diffusion callback that advances a progress bar (and honours interrupts) per step."""
    bar = compat.progress_bar(total, "sampling")
    return lambda info: bar.update(1)


class Sample:
    DISPLAY = "Sample (noisekit)"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)
    OUTPUT_TOOLTIPS = ("The sampled image.",)
    FUNCTION = "run"
    CATEGORY = CATEGORY
    DESCRIPTION = ("Runs a SAMPLER down a SIGMAS schedule with a pixel-space noisekit model. With a start image "
                   "the schedule's first sigma sets how much of it is kept (use split sigmas for img2img); with a "
                   "mask only the masked area (1) is repainted.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
                    "model": ("MODEL", {"tooltip": "A noisekit model (Load Model (noisekit))."}),
                    "sigmas": ("SIGMAS", {"tooltip": "The noise levels to step through."}),
                    "sampler": ("SAMPLER", {"tooltip": "A noisekit sampler node's output."}),
                    "seed": SEED,
                    "width": ("INT", {"default": 64, "min": 8, "max": 4096, "step": 8,
                                      "tooltip": "Width when generating from noise (ignored with a start image)."}),
                    "height": ("INT", {"default": 64, "min": 8, "max": 4096, "step": 8,
                                       "tooltip": "Height when generating from noise."}),
                    "batch_size": ("INT", {"default": 1, "min": 1, "max": 64, "tooltip": "Images to generate."})},
                "optional": {
                    "image": ("IMAGE", {"tooltip": "Start image (img2img / inpainting)."}),
                    "mask": ("MASK", {"tooltip": "1 = repaint, 0 = keep (needs an image)."})}}

    @node_errors
    def run(self, model, sigmas, sampler, seed, width=64, height=64, batch_size=1, image=None, mask=None):
        model = check_model(self.DISPLAY, model)
        sampler = check_sampler(self.DISPLAY, sampler)
        if image is None and mask is not None:
            raise NodeError(self.DISPLAY, "mask", "a mask needs a start image to keep")
        device = next(model.parameters()).device if isinstance(model, torch.nn.Module) else torch.device("cpu")
        if image is not None:
            latent = image_to_model(check_image(self.DISPLAY, "image", image)).to(device)
        else:
            latent = torch.zeros(batch_size, 3, height, width, device=device)  # generation: pure noise at sigma_0
        denoise_mask = check_mask(self.DISPLAY, "mask", mask, image).to(device) if mask is not None else None
        with torch.no_grad():
            x = sample(model, sigmas.to(device), sampler, seed=seed, latent=latent, denoise_mask=denoise_mask,
                       callback=step_callback(len(sigmas) - 1), disable=True)
        return (model_to_image(x.cpu()),)


NODE_CLASS_MAPPINGS = {"NoisekitSample": Sample}
NODE_DISPLAY_NAME_MAPPINGS = {k: v.DISPLAY for k, v in NODE_CLASS_MAPPINGS.items()}
