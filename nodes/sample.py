"""Sample: MODEL + SIGMAS + SAMPLER + seed -> image, without ComfyUI's conditioning stack."""
from __future__ import annotations

import math

import torch

from .. import limits, progress
from ..models.space import forward_bytes, image_to_model, model_device, state_to_image
from ..samplers import noise_form, sample
from ..samplers.solvers import sampling_bytes
from ..schedules.tools import split_at_denoise
from .inputs import (SEED, NodeError, check_image, check_latent, check_mask, check_model, check_sampler, check_sigmas,
                   node_errors)

CATEGORY = "noisekit/samplers"
# Noise below half an 8-bit level of the [-1, 1] model space draws nothing visible: from it the picture is flat.
VISIBLE_NOISE = 1 / 255


def check_generation_sigmas(node: str, model, sigmas: torch.Tensor):
    """Generating from noise needs a schedule that starts at visible noise (and the model's sigma_min) and
    steps down: else the result is the flat start, a grey picture."""
    floor = max(VISIBLE_NOISE, float(getattr(model, "sigma_min", 0.0) or 0.0))
    if len(sigmas) < 2 or float(sigmas[0]) < floor or float(sigmas[-1]) >= float(sigmas[0]):
        raise NodeError(node, "sigmas", f"generating from noise needs a schedule from a noise level of at least "
                                        f"{floor:.3g} down to less, got {[round(float(s), 6) for s in sigmas[:8]]}"
                                        f"{' ...' if len(sigmas) > 8 else ''}; connect a schedule node (e.g. "
                                        "Karras), or a start image to keep")


class Sample:
    DISPLAY = "Sample (noisekit)"
    RETURN_TYPES = ("IMAGE", "LATENT")
    RETURN_NAMES = ("image", "latent")
    OUTPUT_TOOLTIPS = ("The result as an IMAGE: (x + 1) / 2 clipped to [0, 1] (model space is [-1, 1]).",
                       "The result unclipped, in model space [batch, channels, height, width].")
    FUNCTION = "run"
    CATEGORY = CATEGORY
    DESCRIPTION = ("Runs a SAMPLER down a SIGMAS schedule with a pixel-space noisekit model (no conditioning). "
                   "From pure noise by default; with a start image or latent, sigmas[0] (or denoise) sets how much "
                   "of it is kept (img2img); with a mask only the masked area (1) is repainted and the rest is "
                   "kept exactly. Shows per-step progress and stops between steps when interrupted.")

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
                    "image": ("IMAGE", {"tooltip": "Start image (img2img / inpainting); mapped to the model's "
                                                   "[-1, 1] space as 2 image - 1."}),
                    "latent": ("LATENT", {"tooltip": "Start state in model space (e.g. this node's latent output), "
                                                     "instead of an image; its noise_mask is used as the mask."}),
                    "mask": ("MASK", {"tooltip": "1 = repaint, 0 = keep (needs a start image or latent of the same "
                                                 "size)."}),
                    "denoise": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01, "tooltip":
                                "Run only the last round(steps * denoise) steps of the schedule (needs a start image "
                                "or latent; 1 = the whole schedule, 0 = return the start unchanged)."})}}

    @node_errors
    def run(self, model, sigmas, sampler, seed, width=64, height=64, batch_size=1, image=None, latent=None,
            mask=None, denoise=1.0):
        node = self.DISPLAY
        model = check_model(node, model)
        sampler = check_sampler(node, sampler)
        if sampler is None:
            raise NodeError(node, "sampler", "connect a noisekit sampler node")
        sigmas = check_sigmas(node, "sigmas", sigmas)
        start = self._start(image, latent)
        if mask is None and latent is not None:
            mask = latent.get("noise_mask")
        if start is None:
            if mask is not None:
                raise NodeError(node, "mask", "a mask needs a start image or latent to keep")
            if denoise < 1:
                raise NodeError(node, "denoise", "denoise < 1 needs a start image or latent; set it to 1")
            check_generation_sigmas(node, model, sigmas)
        shape = tuple(start.shape) if start is not None else (batch_size, 3, height, width)
        if not 0 <= denoise <= 1:
            raise NodeError(node, "denoise", f"must be in [0, 1], got {denoise}")
        if denoise < 1 and len(sigmas) > 1:
            sigmas = split_at_denoise(sigmas, denoise)[1]
        if noise_form(model) == "flow" and len(sigmas) and float(sigmas.max()) > 1:
            raise NodeError(node, "sigmas", f"a flow model needs sigmas in [0, 1], got max {float(sigmas.max()):g}; "
                                            "use a flow schedule")
        limits.check_memory(f"sampling {shape}",
                            sampling_bytes(math.prod(shape)) + forward_bytes(model, shape[0], *shape[-2:]))
        if start is None:
            start = torch.zeros(shape)  # generation: pure noise at sigmas[0]
        device = model_device(model)
        denoise_mask = None
        if mask is not None:
            denoise_mask = check_mask(node, "mask", mask, start.shape[0], start.shape[-2:])[:, None].to(device)
        with torch.no_grad():
            x = sample(model, sigmas.to(device), sampler, seed=seed, latent=start.to(device),
                       denoise_mask=denoise_mask, callback=progress.step_callback(len(sigmas) - 1), disable=True)
        x = x.cpu()
        return (state_to_image(x), {"samples": x})

    def _start(self, image, latent):
        """The start state in model space, or None to generate from noise."""
        if image is not None and latent is not None:
            raise NodeError(self.DISPLAY, "latent", "connect one start: an image or a latent, not both")
        if image is not None:
            return image_to_model(check_image(self.DISPLAY, "image", image))
        if latent is not None:
            return check_latent(self.DISPLAY, "latent", latent).float()
        return None


NODE_CLASS_MAPPINGS = {"NoisekitSample": Sample}
NODE_DISPLAY_NAME_MAPPINGS = {k: v.DISPLAY for k, v in NODE_CLASS_MAPPINGS.items()}
