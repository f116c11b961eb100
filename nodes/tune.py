"""Tune Sigmas: a schedule's levels tuned to one model and one sampler (samplers/tune.py); Tune Sampler: a
solver fitted to one model on given levels (samplers/fit.py), and Load Sampler Preset reading one back."""
from __future__ import annotations

import math
import os

import torch

from ..models.space import model_device
from ..samplers import add_noise, noise_form, unit_noise
from ..samplers.fit import fit_solver, load_preset, save_preset
from ..samplers.tune import MAX_STEPS, tune_sigmas
from . import adapter
from .inputs import SEED, NodeError, check_guider, check_model, check_sampler, check_sigmas, comfy_sigmas, node_errors


TUNE_INPUTS = {
    "seed": SEED,
    "width": ("INT", {"default": 512, "min": 8, "max": 4096, "step": 8, "tooltip": "Picture width to tune at "
                                                                                  "(a smaller one is faster)."}),
    "height": ("INT", {"default": 512, "min": 8, "max": 4096, "step": 8, "tooltip": "Picture height."}),
    "batch_size": ("INT", {"default": 8, "min": 1, "max": 64, "tooltip": "Noise seeds tuned on together: more "
                           "carry over to other seeds better and cost proportionally more."})}
MODEL_INPUTS = {"model": ("MODEL", {"tooltip": "Load Model (noisekit)."}),
                "guider": ("GUIDER", {"tooltip": "Any ComfyUI model with its prompt (CFGGuider, BasicGuider, ...)."})}


def check_tunable_inputs(node, sampler, model, guider):
    if sampler is None or not hasattr(sampler, "entry"):
        raise NodeError(node, "sampler", "connect a noisekit sampler node (ComfyUI's own cannot be tuned for)")
    if (model is None) == (guider is None):
        raise NodeError(node, "model", "connect either Load Model (noisekit) or a GUIDER, not both")


def on_seeded_starts(node, sigmas, seed, width, height, batch_size, model, guider, fn):
    """``fn(denoiser, x)`` on ``batch_size`` seeded starts at sigmas[0], for a noisekit model (pictures of
    width x height) or a GUIDER (its latent for them, its prompt and model); what ``fn`` returns."""
    found = {}

    def run(denoiser, latent):
        x = add_noise(latent, unit_noise(latent.shape, seed, latent.device, latent.dtype), float(sigmas[0]),
                      noise_form(denoiser))
        with torch.no_grad():
            found["result"] = fn(denoiser, x)
        return latent

    if model is not None:
        model = check_model(node, model, "connect a GUIDER instead")
        run(model, torch.zeros(batch_size, 3, height, width, device=model_device(model)))
    else:
        guider = check_guider(node, guider)
        adapter.run_guided(guider, adapter.empty_latent(guider, batch_size, height, width), seed, run)
    return found["result"]


class TuneSigmas:
    DISPLAY = "Tune Sigmas (noisekit)"
    RETURN_TYPES = ("SIGMAS",)
    RETURN_NAMES = ("sigmas",)
    OUTPUT_TOOLTIPS = ("The tuned levels: the input's first and last non-zero level and step count, then 0.",)
    FUNCTION = "tune"
    CATEGORY = "noisekit/samplers"  # it needs a MODEL, which no schedule node does
    DESCRIPTION = ("Moves a schedule's levels to where this sampler makes the least error on this model "
                   "(AYS-style steps for your own checkpoint). From `batch_size` noise seeds it compares the sampler "
                   "with a teacher (the ODE solved to a tolerance), about 80 sampler runs per step: minutes, once per model, sampler, "
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
                    **TUNE_INPUTS},
                "optional": MODEL_INPUTS}

    @node_errors
    def tune(self, sigmas, sampler, seed, width=512, height=512, batch_size=8, model=None, guider=None):
        node = self.DISPLAY
        sigmas = check_sigmas(node, "sigmas", sigmas)
        sampler = check_sampler(node, sampler)
        check_tunable_inputs(node, sampler, model, guider)
        tuning = on_seeded_starts(node, sigmas, seed, width, height, batch_size, model, guider,
                                  lambda denoiser, x: tune_sigmas(denoiser, x, sampler, sigmas, desc=node))
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


def preset_path(node: str, name: str) -> str:
    """A preset file name as a path: relative ones in ComfyUI's output folder (else the current one)."""
    if not name.strip():
        raise NodeError(node, "preset", "give a file name, e.g. my_checkpoint_8_steps.json")
    return os.path.join(adapter.output_folder(), os.path.expanduser(name.strip()))


class TuneSampler:
    DISPLAY = "Tune Sampler (noisekit)"
    RETURN_TYPES = ("SAMPLER", "SIGMAS")
    RETURN_NAMES = ("sampler", "sigmas")
    OUTPUT_TOOLTIPS = ("The solver fitted to this model on these levels (or the untuned sampler where the fit did "
                       "no better on the held-out seeds): for SamplerCustom / SamplerCustomAdvanced.",
                       "The levels it was fitted on: connect them to the same sampler node.")
    FUNCTION = "tune"
    CATEGORY = "noisekit/samplers"
    DESCRIPTION = ("Fits a sampler to your checkpoint: a one-call-per-step multistep solver whose per-step weights "
                   "are learned from a teacher (the ODE solved to a tolerance) on `batch_size` noise seeds (PAS / S4S-style), on "
                   "levels first tuned for the untuned sampler (tune_levels). Minutes, once per model, step count "
                   "and size. A quarter of the seeds is held out: the node shows the error there against the untuned sampler and UniPC, and "
                   "where the fit does no better the untuned sampler comes back. Made for 5-10 steps; save it as a "
                   "preset to share or reload (Load Sampler Preset). Connect a noisekit MODEL, or a GUIDER for any "
                   "checkpoint.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
                    "sigmas": ("SIGMAS", {"tooltip": f"The levels to fit on (3..{MAX_STEPS} steps, ending in 0), e.g. "
                                                     "a schedule node's or Tune Sigmas' output."}),
                    "sampler": ("SAMPLER", {"tooltip": "The untuned deterministic noisekit sampler to compare with "
                                                       "and fall back to (e.g. unipc order 2 or pc_sigma order 3)."}),
                    **TUNE_INPUTS,
                    "tune_levels": ("BOOLEAN", {"default": True, "tooltip": "First move the levels to where the "
                                                "untuned sampler does best (Tune Sigmas, about 80 sampler runs per "
                                                "step), then fit the solver on them: better at 5-10 steps, slower."}),
                    "preset": ("STRING", {"default": "", "tooltip": "Save the fitted solver as this JSON file "
                                          "(relative: in the output folder; never overwritten); empty: no file."})},
                "optional": MODEL_INPUTS}

    @node_errors
    def tune(self, sigmas, sampler, seed, width=512, height=512, batch_size=8, tune_levels=True, preset="", model=None,
             guider=None):
        node = self.DISPLAY
        sigmas = check_sigmas(node, "sigmas", sigmas)
        sampler = check_sampler(node, sampler)
        check_tunable_inputs(node, sampler, model, guider)
        path = preset_path(node, preset) if preset.strip() else None
        if path is not None and os.path.exists(path):
            raise NodeError(node, "preset", f"{path} exists; noisekit never overwrites a file: choose another name")
        fit = on_seeded_starts(node, sigmas, seed, width, height, batch_size, model, guider,
                               lambda denoiser, x: fit_solver(denoiser, x, sampler, sigmas, tune_levels, node))
        held_out = not math.isnan(fit.check_error)
        fitted, base = (fit.check_error, fit.check_base_error) if held_out else (fit.error, fit.base_error)
        text = (f"RMS distance to the teacher{' on the held-out seeds' if held_out else ''}: fitted {fitted:.3g}, "
                f"untuned {sampler.name} {base:.3g}" + (f", UniPC {fit.check_unipc_error:.3g}" if held_out else
                                                        " (a batch of 3 or more holds seeds out)")
                + f"; fitted in {fit.seconds:.0f} s")
        if fit.kept:
            text += "; the fit did no better, so this is the untuned sampler (try a larger batch_size)"
        else:
            text += ("; refined jointly" + (", levels too" if fit.levels_refined else "") if fit.refined else
                     "; fitted step by step (no gradient through this model here, too large to differentiate through within "
                     "the memory budget, or the joint refinement did no better)")
            if path is not None:
                text += f"; saved {save_preset(fit.sampler, path, note=f'{batch_size} seeds at {width}x{height}')}"
        ui = {"text": [text], "caption": [f"error {base:.3g} -> {fitted:.3g}" + (" (untuned kept)" if fit.kept else "")]}
        return {"ui": ui, "result": (adapter.sampler_value(fit.sampler), comfy_sigmas(fit.sigmas))}


class LoadSamplerPreset:
    DISPLAY = "Load Sampler Preset (noisekit)"
    RETURN_TYPES = ("SAMPLER", "SIGMAS")
    RETURN_NAMES = ("sampler", "sigmas")
    OUTPUT_TOOLTIPS = ("The fitted solver the preset holds: for SamplerCustom / SamplerCustomAdvanced.",
                       "The levels it was fitted on: connect them to the same sampler node.")
    FUNCTION = "load"
    CATEGORY = "noisekit/samplers"
    DESCRIPTION = ("Reads a fitted solver that Tune Sampler saved (a small JSON file of levels and per-step "
                   "weights, shareable per checkpoint) and gives its SAMPLER and SIGMAS.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"preset": ("STRING", {"default": "", "tooltip": "The preset's JSON file (relative: in "
                                                                             "the output folder)."})}}

    @node_errors
    def load(self, preset):
        path = preset_path(self.DISPLAY, preset)
        try:
            solver = load_preset(path)
        except ValueError as e:
            raise NodeError(self.DISPLAY, "preset", str(e)) from None
        return (adapter.sampler_value(solver), comfy_sigmas(torch.tensor(solver.sigmas, dtype=torch.float64)))


NODE_CLASS_MAPPINGS = {"NoisekitTuneSigmas": TuneSigmas, "NoisekitTuneSampler": TuneSampler,
                       "NoisekitLoadSamplerPreset": LoadSamplerPreset}
NODE_DISPLAY_NAME_MAPPINGS = {k: v.DISPLAY for k, v in NODE_CLASS_MAPPINGS.items()}
