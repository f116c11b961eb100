"""Tune Sigmas: a schedule's levels tuned to one model and one sampler (samplers/tune.py)."""
from __future__ import annotations

import math

import torch

from ..models.space import model_device
from ..samplers import add_noise, noise_form, unit_noise
from ..samplers.tune import MAX_STEPS, tune_sigmas
from . import adapter
from .inputs import SEED, NodeError, check_guider, check_model, check_sampler, check_sigmas, comfy_sigmas, node_errors


class TuneSigmas:
    DISPLAY = "Tune Sigmas (noisekit)"
    RETURN_TYPES = ("SIGMAS",)
    RETURN_NAMES = ("sigmas",)
    OUTPUT_TOOLTIPS = ("The tuned levels: the input's first and last non-zero level and step count, then 0.",)
    FUNCTION = "tune"
    CATEGORY = "noisekit/samplers"  # it needs a MODEL, which no schedule node does
    DESCRIPTION = ("Moves a schedule's levels to where this sampler makes the least error on this model "
                   "(AYS-style steps for your own checkpoint). From `batch_size` noise seeds it compares the sampler "
                   "with a 20x finer teacher run, about 80 sampler runs per step: minutes, once per model, sampler, "
                   "step count and size. A quarter of the seeds is held out: where the tuned levels do no better on "
                   "them, the given levels come back. Measured to help at 5-10 steps; keep the tuned SIGMAS (e.g. "
                   "as text in Custom Sigmas) for every seed. Connect a noisekit MODEL, or a GUIDER for any checkpoint.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
                    "sigmas": ("SIGMAS", {"tooltip": f"The schedule to start from (3..{MAX_STEPS} steps, ending in 0): "
                                                     "its first and last non-zero levels and its step count are kept."}),
                    "sampler": ("SAMPLER", {"tooltip": "A deterministic noisekit sampler (eta 0): the one the levels "
                                                       "are for."}),
                    "seed": SEED,
                    "width": ("INT", {"default": 512, "min": 8, "max": 4096, "step": 8,
                                      "tooltip": "Picture width to tune at (a smaller one is faster)."}),
                    "height": ("INT", {"default": 512, "min": 8, "max": 4096, "step": 8, "tooltip": "Picture height."}),
                    "batch_size": ("INT", {"default": 8, "min": 1, "max": 64,
                                           "tooltip": "Noise seeds tuned on together: more carry over to other seeds "
                                                      "better and cost proportionally more."})},
                "optional": {
                    "model": ("MODEL", {"tooltip": "Load Model (noisekit)."}),
                    "guider": ("GUIDER", {"tooltip": "Any ComfyUI model with its prompt (CFGGuider, BasicGuider, "
                                                     "...)."})}}

    @node_errors
    def tune(self, sigmas, sampler, seed, width=512, height=512, batch_size=8, model=None, guider=None):
        node = self.DISPLAY
        sigmas = check_sigmas(node, "sigmas", sigmas)
        sampler = check_sampler(node, sampler)
        if sampler is None or not hasattr(sampler, "entry"):
            raise NodeError(node, "sampler", "connect a noisekit sampler node (ComfyUI's own cannot be tuned for)")
        if (model is None) == (guider is None):
            raise NodeError(node, "model", "connect either Load Model (noisekit) or a GUIDER, not both")
        found = {}

        def run(denoiser, latent):
            noise = unit_noise(latent.shape, seed, latent.device, latent.dtype)
            x = add_noise(latent, noise, float(sigmas[0]), noise_form(denoiser))
            with torch.no_grad():
                found["tuning"] = tune_sigmas(denoiser, x, sampler, sigmas, desc=node)
            return latent

        if model is not None:
            model = check_model(node, model, "connect a GUIDER instead")
            run(model, torch.zeros(batch_size, 3, height, width, device=model_device(model)))
        else:
            guider = check_guider(node, guider)
            adapter.run_guided(guider, adapter.empty_latent(guider, batch_size, height, width), seed, run)
        tuning = found["tuning"]
        held_out = not math.isnan(tuning.check_error)
        before, after = (tuning.check_start_error, tuning.check_error) if held_out else (tuning.start_error, tuning.error)
        text = (f"RMS distance to the teacher{' on the held-out seeds' if held_out else ''}: {before:.3g} on the "
                f"given levels, {after:.3g} tuned" + ("" if held_out else " (a batch of 3 or more holds seeds out)"))
        if tuning.kept:
            text += "; the tuned levels did no better, so these are the given ones (try a larger batch_size)"
        text += "; levels " + ", ".join(f"{v:.4g}" for v in tuning.sigmas.tolist())
        ui = {"text": [text], "caption": [f"error {before:.3g} -> {after:.3g}" + (" (given kept)" if tuning.kept else "")],
              "sigmas": tuning.sigmas.tolist(), "given": sigmas.tolist()}
        return {"ui": ui, "result": (comfy_sigmas(tuning.sigmas),)}


NODE_CLASS_MAPPINGS = {"NoisekitTuneSigmas": TuneSigmas}
NODE_DISPLAY_NAME_MAPPINGS = {k: v.DISPLAY for k, v in NODE_CLASS_MAPPINGS.items()}
