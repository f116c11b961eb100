"""Forward noise: what an image (or latent) looks like at a noise level, q(x_t | x_0)."""
from __future__ import annotations

import torch

from .. import limits
from ..models.space import image_to_model, state_to_image
from ..samplers import add_noise, unit_noise
from ..samplers.forward import FORMS
from .inputs import SEED, NodeError, check_image, check_latent, check_sigmas, node_errors

CATEGORY = "noisekit/noise"
FORM_INPUT = (list(FORMS), {"default": "ve", "tooltip": "ve: x0 + sigma eps (SD, EDM); vp: DDPM's "
              "sqrt(abar) x0 + sqrt(1 - abar) eps; flow: (1 - sigma) x0 + sigma eps (sigma <= 1)."})


def _pick_sigma(node, sigma, sigmas, step, form):
    """The widget sigma, or sigmas[step] when a schedule is connected; flow needs sigma <= 1."""
    if sigmas is None:
        where, s = "sigma", float(sigma)
    else:
        check_sigmas(node, "sigmas", sigmas)
        if not 0 <= step < len(sigmas):
            raise NodeError(node, "step", f"{step} is outside the schedule (0..{len(sigmas) - 1})")
        where, s = "sigmas", float(sigmas[step])
    _check_form(node, where, s, form)
    return s


def _check_form(node, where, sigma_max, form):
    if form not in FORMS:
        raise NodeError(node, "parameterisation", f"must be one of {list(FORMS)}, got {form!r}")
    if form == "flow" and sigma_max > 1:
        raise NodeError(node, where, f"flow noise levels lie in [0, 1], got {sigma_max:g}; "
                                     "use a flow schedule or the ve/vp parameterisation")


class ForwardNoise:
    DISPLAY = "Forward Noise (noisekit)"
    RETURN_TYPES = ("IMAGE", "LATENT", "LATENT")
    RETURN_NAMES = ("noisy_image", "noisy_latent", "noise")
    OUTPUT_TOOLTIPS = ("The noisy state for viewing: (x + 1) / 2 clipped to [0, 1], the inverse of the image -> "
                       "2 image - 1 mapping. VE states leave [-1, 1] and clip (saturated noise at large sigma); VP "
                       "and flow states stay near it. A latent shows its first 3 channels (1 channel: grey).",
                       "The noisy state, unclipped ([-1, 1] image space for an IMAGE input).",
                       "The unit Gaussian noise that was added.")
    FUNCTION = "apply"
    CATEGORY = CATEGORY
    DESCRIPTION = "Samples q(x_t | x_0): the image or latent at a noise level sigma (or at a step of a schedule)."

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
                    "sigma": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1000.0, "step": 0.001, "round": False,
                                        "tooltip": "Noise level (ignored when a schedule is connected)."}),
                    "seed": SEED,
                    "parameterisation": FORM_INPUT},
                "optional": {
                    "image": ("IMAGE", {"tooltip": "The clean image (or connect a latent instead)."}),
                    "latent": ("LATENT", {"tooltip": "The clean latent (or connect an image instead)."}),
                    "sigmas": ("SIGMAS", {"tooltip": "Take sigma from this schedule at 'step'."}),
                    "step": ("INT", {"default": 0, "min": 0, "max": 10000, "tooltip": "Index into sigmas."})}}

    @node_errors
    def apply(self, sigma, seed, parameterisation, image=None, latent=None, sigmas=None, step=0):
        if (image is None) == (latent is None):
            raise NodeError(self.DISPLAY, "image", "connect exactly one of 'image' and 'latent'")
        clean = check_image(self.DISPLAY, "image", image) if image is not None else None
        x0 = image_to_model(clean) if clean is not None else check_latent(self.DISPLAY, "latent", latent)
        s = _pick_sigma(self.DISPLAY, sigma, sigmas, step, parameterisation)
        noise = unit_noise(x0.shape, seed, x0.device, x0.dtype)
        noisy = add_noise(x0, noise, s, parameterisation)
        shown = clean if clean is not None and s == 0 else state_to_image(noisy)  # sigma 0: the input itself
        return (shown, {"samples": noisy}, {"samples": noise})


class NoiseStrip:
    DISPLAY = "Noise Strip (noisekit)"
    RETURN_TYPES = ("IMAGE", "IMAGE")
    RETURN_NAMES = ("strip", "frames")
    OUTPUT_TOOLTIPS = ("One image: the frames side by side, left to right in the schedule's order (Save Image writes "
                       "one file).",
                       "The same frames as a batch, one per sigma (Save Image writes one file each).")
    FUNCTION = "apply"
    CATEGORY = CATEGORY
    DESCRIPTION = ("The same image at every noise level of a schedule, with one noise draw, side by side in one "
                   "image: a picture of the schedule. Each frame is (x + 1) / 2 clipped to [0, 1].")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE", {"tooltip": "The clean image (the first of the batch is used)."}),
                             "sigmas": ("SIGMAS", {"tooltip": "The noise levels to show, in order."}),
                             "seed": SEED, "parameterisation": FORM_INPUT}}

    @node_errors
    def apply(self, image, sigmas, seed, parameterisation):
        clean = check_image(self.DISPLAY, "image", image)[:1]
        x0 = image_to_model(clean)
        check_sigmas(self.DISPLAY, "sigmas", sigmas)
        _check_form(self.DISPLAY, "sigmas", float(sigmas.max()), parameterisation)
        try:  # the frames, their view as images and the noise: three strips
            limits.check_memory(f"a noise strip of {len(sigmas)} frames", 3 * limits.tensor_bytes(len(sigmas), *x0.shape[1:]))
        except limits.OverBudget as e:
            raise NodeError(self.DISPLAY, "sigmas", str(e)) from None
        noise = unit_noise(x0.shape, seed, x0.device, x0.dtype).expand(len(sigmas), *x0.shape[1:])
        frames = add_noise(x0.expand_as(noise), noise, sigmas.to(x0), parameterisation)
        frames = state_to_image(frames)
        frames[sigmas.to(frames.device) == 0] = clean[0]  # q(x | x0) at sigma 0 is x0: skip the float round trip
        return (torch.cat(list(frames), dim=1)[None], frames)


NODE_CLASS_MAPPINGS = {"NoisekitForwardNoise": ForwardNoise, "NoisekitNoiseStrip": NoiseStrip}
NODE_DISPLAY_NAME_MAPPINGS = {k: v.DISPLAY for k, v in NODE_CLASS_MAPPINGS.items()}
