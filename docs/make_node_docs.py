"""The help pages ComfyUI's node library shows: web/docs/<NodeName>.md for every registered node, and pictures.

    python docs/make_node_docs.py           # pages, their pictures and the pack's icon (seconds)
    python docs/make_node_docs.py --text    # pages only

A page is made from the node's own declarations (display name, DESCRIPTION, INPUT_TYPES with defaults,
bounds and tooltips, RETURN_NAMES/RETURN_TYPES/OUTPUT_TOOLTIPS), the short guidance written below, and,
for samplers, numbers measured here on exact problems (noisekit.models.analytic). Making the text takes
about a second and is deterministic, so tests/web/test_node_docs.py regenerates every page and compares.
Pictures are drawn by the nodes themselves and noisekit's plot (nodes/plot.py); the test only checks
that every picture a page links exists.
"""
from __future__ import annotations

import functools
import io
import math
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image, ImageDraw

from noisekit.models.analytic import GaussianDenoiser, mixture, mixture_start, rms
from noisekit.nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
from noisekit.nodes.inputs import camel
from noisekit.nodes.plot import image_tensor, plot_sigmas
from noisekit.samplers import SAMPLERS, Sampler
from noisekit.schedules import SCHEDULES, SIGMA_TOOLS, get_sigmas
from noisekit.schedules.tables import PUBLISHED

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "web" / "docs"
IMAGES = DOCS / "images"
INPUTS = ROOT / "example_workflows" / "input"

# The registry entry behind each generated node (named as nodes/schedules.py and nodes/samplers.py name them),
# and the kind of node it makes
ENTRIES, KINDS = {}, {}
for _kind, _prefix, _registry in (("schedule", "NoisekitSchedule", SCHEDULES), ("tool", "NoisekitSigmas", SIGMA_TOOLS),
                                  ("sampler", "NoisekitSampler", SAMPLERS)):
    for _entry in _registry:
        ENTRIES[_prefix + camel(_entry.name)], KINDS[_prefix + camel(_entry.name)] = _entry, _kind


def kind(name: str) -> str:
    return KINDS.get(name, name)


GENERIC = {"NoisekitSchedule": "schedule", "NoisekitSampler": "sampler"}  # any registered one by name


# ---- hand-written guidance -------------------------------------------------------------------------------

RANGE_HINT = ("No MODEL is needed: the default range, sigma 0.0292 to 14.61, is SD1.x's and SDXL's; EDM-style "
              "models use 0.002 to 80 (the Schedule node's `preset` knows both), flow models (SD3, Flux) the "
              "flow schedules.")
GUIDE = {  # when to use it and what to connect: per kind of node, where a line per node would repeat itself
    "schedule": "Connect `sigmas` to the `sigmas` input of ComfyUI's SamplerCustom or SamplerCustomAdvanced (where "
                "BasicScheduler would go), or to noisekit's Sample. The curve on the node follows the widgets as "
                "you change them; Sigma Plot compares up to four schedules in one picture. " + RANGE_HINT,
    "tool": "Put it between a schedule node and the sampler: it takes SIGMAS and gives changed SIGMAS, and tools "
            "chain. The curve on the node shows the result as you change a widget.",
    "sampler": "Connect `sampler` to the `sampler` input of ComfyUI's SamplerCustom or SamplerCustomAdvanced (where "
               "KSamplerSelect would go); it works with any checkpoint. noisekit's Sample, Denoise Photo, Inpaint "
               "Photo and Tune Sigmas take it too. The numbers under *Measured* compare samplers: model calls are "
               "what take the time, and a higher order means the result improves faster as you add steps.",
}
WHEN = {  # a line of advice for one node, after its kind's
    "NoisekitSchedule": "Use it to try schedules quickly: switch `schedule` and watch the curve. A schedule's own "
                        "knobs (karras' rho, the flow shift, ...) are on its dedicated node.",
    "NoisekitScheduleKarras": "The usual choice with SD1.x and SDXL checkpoints. Compared with exponential it stays "
                              "at high noise longer and takes its largest steps at the lowest levels; a larger rho "
                              "moves it towards exponential, rho 1 is linear.",
    "NoisekitScheduleExponential": "Every step divides the noise by the same factor. Compared with karras it leaves "
                                   "high noise sooner and takes smaller steps at the lowest levels.",
    "NoisekitSchedulePolyexponential": "exponential with a bend: rho above 1 moves steps towards low noise, below 1 "
                                       "towards high noise.",
    "NoisekitScheduleLaplace": "Packs the steps around one noise level, sigma = e^mu (1 by default); beta sets how "
                               "tightly. Where it would leave the range it is clamped, so the first or last levels "
                               "can repeat, as in ComfyUI.",
    "NoisekitScheduleLinear": "Evenly spaced in sigma, so with a large sigma_max nearly every step is spent at high "
                              "noise. Mostly useful for comparison, or over a small range.",
    "NoisekitScheduleKlOptimal": "ComfyUI's kl_optimal scheduler, without a MODEL input.",
    "NoisekitScheduleBeta": "ComfyUI's beta scheduler: with alpha and beta below 1 it crowds the steps at both ends "
                            "of the range.",
    "NoisekitScheduleVp": "For VP-SDE models (Song et al.); its range is set by beta_d, beta_min and eps_s rather "
                          "than by sigma_min and sigma_max.",
    "NoisekitScheduleLinearQuadratic": "For flow models such as Mochi and LTX-Video (sigma from 1 to 0), as ComfyUI's "
                                       "linear_quadratic.",
    "NoisekitScheduleFlow": "For rectified-flow models (SD3, Flux): sigma from 1 to 0; `shift` spends more steps at "
                            "high noise (SD3 uses 3).",
    "NoisekitScheduleAys": "NVIDIA's Align Your Steps levels, tuned for SD1.5, SDXL or Stable Video Diffusion "
                           "(`model`) at 10 steps; other step counts follow the table's curve. Try it at 10 steps.",
    "NoisekitScheduleGits": "The published GITS levels for SD1.5 at 2 to 20 steps, for very few steps.",
    "NoisekitScheduleOptimalSteps": "For flow models: the Optimal Steps levels published for FLUX.1 (10 steps) and Wan "
                                    "(20), and ComfyUI's for Chroma (40), as ComfyUI's OptimalStepsScheduler. Best "
                                    "at the table's own step count.",
    "NoisekitSchedulePublished": "To start from what a model's makers or a paper tuned: pick your model family and "
                                 "a method (the list and the sources are below), at the table's own step count "
                                 "first. Steps that are not published follow the table's curve (log-linear).",
    "NoisekitScheduleNormal": "ComfyUI's \"normal\" scheduler without a MODEL input: the betas of SD1.x and SDXL "
                              "are the defaults; change them for a model trained with others.",
    "NoisekitScheduleSgmUniform": "ComfyUI's \"sgm_uniform\" scheduler without a MODEL input (SD1.x/SDXL betas by "
                                  "default).",
    "NoisekitScheduleSimple": "ComfyUI's \"simple\" scheduler without a MODEL input (SD1.x/SDXL betas by default).",
    "NoisekitScheduleDdimUniform": "ComfyUI's \"ddim_uniform\" scheduler without a MODEL input (SD1.x/SDXL betas "
                                   "by default); it may give a step or two more than `steps`, as ComfyUI's.",
    "NoisekitScheduleLeading": "diffusers' \"leading\" timestep spacing, for graphs that must match a diffusers "
                               "pipeline; it never starts at the top timestep.",
    "NoisekitScheduleTrailing": "diffusers' \"trailing\" spacing: it starts at the last training timestep, so the "
                                "first step is at full noise (Lin et al. recommend it for few steps).",
    "NoisekitScheduleLinspace": "diffusers' \"linspace\" timestep spacing, for graphs that must match a diffusers "
                                "pipeline.",
    "NoisekitCustomSigmas": "For a schedule you write or draw yourself, or to keep one: paste the levels Tune Sigmas "
                            "prints, or connect a schedule to `start`, press \"edit the input's curve\" and drag. "
                            "The widget holds plain numbers, so the graph runs without noisekit's web extension "
                            "and in `noisekit run`. Connect `sigmas` where a schedule's would go.",
    "NoisekitSigmasSplit": "Two-pass sampling: the high part to one sampler (or model), the low part to another. "
                           "Both parts hold the split level, so the second pass starts where the first ends.",
    "NoisekitSigmasSplitDenoise": "img2img with SamplerCustomAdvanced: `low_sigmas` is what a pass of strength "
                                  "`denoise` runs.",
    "NoisekitSigmasFlip": "Run a sampler backwards, from the clean image to its noise (inversion), e.g. to edit "
                          "an image through its noise.",
    "NoisekitSigmasSplice": "Join two schedules, e.g. the high part of one and the low part of another.",
    "NoisekitSigmasSetFirst": "Start above the schedule's first level, e.g. at the model's sigma_max.",
    "NoisekitSigmasExtend": "More steps on the same curve: the new levels fall between the old ones, which all "
                            "stay.",
    "NoisekitSigmasResample": "The same curve at another step count, e.g. a tuned or hand-drawn schedule at more "
                              "steps.",
    "NoisekitSigmasMultiply": "Scale every level, e.g. to move a schedule to a model with another noise range.",
    "NoisekitSigmasClamp": "Keep every level inside a model's range.",
    "NoisekitSigmasTruncate": "img2img by noise level: start lower on the same schedule (and keep at most `steps` "
                              "steps).",
    "NoisekitSigmasFlowShift": "Give a flow schedule the time shift of SD3 or Flux models.",
    "NoisekitSampler": "Use it to try samplers quickly: switch `sampler_name`. A sampler's other options are on its "
                       "dedicated node.",
    "NoisekitNoise": "Connect `noise` to SamplerCustomAdvanced in place of RandomNoise when a picture must come out "
                     "the same on another machine, device or batch size.",
    "NoisekitForwardNoise": "To see what your image or latent looks like at a noise level (to pick a denoise "
                            "strength or check a schedule), or to make a noisy start by hand. Connect either "
                            "`image` or `latent`; with `sigmas` connected, `step` picks the level.",
    "NoisekitNoiseStrip": "To see a schedule as pictures: connect LoadImage's image and a schedule node, and the "
                          "strip to Save Image or Preview Image.",
    "NoisekitSample": "To run noisekit's pixel-space model (Load Model (noisekit)) without prompts: from noise, or "
                      "from a start image (img2img, or inpainting with a mask). For a checkpoint with a prompt use "
                      "ComfyUI's SamplerCustom with noisekit's SIGMAS and SAMPLER instead.",
    "NoisekitSigmaPlot": "To compare schedules side by side: connect up to four SIGMAS; the node overlays them as "
                         "you wire and edit them, and `plot` (to Preview Image) is the same chart as an image. The "
                         "legend names each schedule by the title of the node that made it. Choose `axis` flow t to "
                         "set a flow model's schedule (SD3, Flux) beside an SD one: t = sigma / (1 + sigma).",
    "NoisekitLoadModel": "Feeds Denoise Photo, Inpaint Photo, Sample and Tune Sigmas, and ComfyUI's own samplers "
                         "(KSampler, SamplerCustom). Two models come with noisekit: noisekit-default for white noise "
                         "of a known level, noisekit-camera for real photos (camera noise, JPEG).",
    "NoisekitDenoisePhoto": "A noisy photo (high ISO, low light): connect LoadImage's image and Load Model "
                            "(noisekit), and `image` to Save Image. Leave noise_level at 0 to estimate it; if the "
                            "result is still noisy or too smooth, set it (on the 0..255 scale). `one_step` keeps "
                            "the most fidelity, `sample` gives more fine detail. For any other checkpoint connect a "
                            "GUIDER and its VAE instead of a model.",
    "NoisekitInpaintPhoto": "To remove a small object, a scratch or a logo: mask it (LoadImage's MASK, from ComfyUI's "
                            "mask editor) and connect the image, the mask and Load Model (noisekit). Outside the "
                            "mask every pixel is kept. The bundled model fills holes from their surroundings; for "
                            "large areas or new content connect a GUIDER (your checkpoint and prompt) and its VAE.",
    "NoisekitTuneSigmas": "Once per model, sampler and step count, for 5 to 10 steps: connect a schedule, a "
                          "deterministic sampler (eta 0) and Load Model (noisekit) or a GUIDER, run it, and paste "
                          "the levels it shows into Custom Sigmas to keep them. It takes minutes.",
    "NoisekitTuneSampler": "Once per checkpoint and step count, for 5 to 10 steps: connect a schedule (or Tune "
                           "Sigmas' levels), an untuned deterministic sampler (unipc order 2, pc_sigma order 3) and "
                           "Load Model (noisekit) or a GUIDER; feed both outputs to SamplerCustom. Give `preset` a "
                           "file name to keep the fit.",
    "NoisekitLoadSamplerPreset": "To reuse or share a fit: the JSON file Tune Sampler saved, for the checkpoint it "
                                 "was fitted on; feed both outputs to SamplerCustom.",
}
SUMMARY = {  # what it does in plain words, where the node's DESCRIPTION is a formula (that follows under "How it works")
    "NoisekitScheduleLinearQuadratic": "The noise removed grows linearly over the first `linear_steps` steps, to "
                                       "`threshold_noise`, then along a quadratic to the end.",
    "NoisekitScheduleDdimUniform": "Every c-th training timestep from the bottom up (c = T // steps), read off the "
                                   "model's noise table.",
    "NoisekitSigmasSplit": "Cuts a schedule in two at step `step`: `high_sigmas` up to it, `low_sigmas` from it.",
    "NoisekitSigmasSplitDenoise": "Cuts a schedule in two so that `low_sigmas` holds the last `denoise` fraction of "
                                  "its steps.",
    "NoisekitSigmasFlip": "Reverses a schedule: clean to noisy.",
    "NoisekitSigmasSplice": "Joins two schedules: `sigmas`, then `other`.",
    "NoisekitSigmasSetFirst": "Replaces the first level.",
    "NoisekitSigmasExtend": "Inserts `points` levels between each pair of levels.",
    "NoisekitSigmasResample": "Redraws the schedule with `steps` steps, keeping its shape, its first and last level "
                              "and a final 0.",
    "NoisekitSigmasMultiply": "Multiplies every level by `factor`.",
    "NoisekitSigmasClamp": "Clamps every level above 0 into [sigma_min, sigma_max].",
    "NoisekitSigmasTruncate": "Drops the levels above `sigma_max`, then keeps at most `steps` steps.",
    "NoisekitSigmasFlowShift": "Applies the rectified-flow time shift to every level of a flow schedule.",
    "NoisekitSamplerEuler": "The simplest sampler: each step follows the model's current direction straight to the "
                            "next noise level, one model call per step. With `s_churn` above 0 it adds some noise "
                            "back at every step (Karras' churn).",
    "NoisekitSamplerEulerAncestral": "Euler with fresh noise at every step (ancestral sampling): the result depends "
                                     "on the seed and keeps changing as steps are added, rather than settling.",
    "NoisekitSamplerDdim": "DDIM. With eta 0 (the default) it is deterministic and the same as euler; eta above 0 "
                           "adds fresh noise at every step, and eta 1 is DDPM.",
    "NoisekitSamplerDdpm": "The original DDPM sampler: fresh noise at every step, the posterior of the model's "
                           "training process.",
    "NoisekitSamplerHeun": "Heun's method: two model calls per step (the last step one), so compare it with "
                           "one-call samplers at the same number of model calls rather than steps.",
    "NoisekitSamplerDpm2": "DPM-Solver-2: like heun, two model calls per step, with the extra call in the middle "
                           "of the step on a log scale.",
    "NoisekitSamplerLms": "Linear multistep (Adams): reuses the model's last `order` outputs, so it reaches a high "
                          "order with one model call per step.",
    "NoisekitSamplerIpndm": "iPNDM: a multistep method with the fixed weights of equal steps, so on uneven "
                            "schedules such as karras it loses order; ipndm_v uses the weights of the actual steps.",
    "NoisekitSamplerIpndmV": "Variable-step iPNDM: a multistep method with the weights of the actual steps (the same "
                             "numbers as lms).",
    "NoisekitSamplerDpmpp2m": "DPM-Solver++(2M): second order with one model call per step, a common all-round "
                              "choice.",
    "NoisekitSamplerResMultistep": "A second-order multistep exponential integrator (RES), one model call per step.",
    "NoisekitSamplerDpmpp2mSde": "dpmpp_2m with fresh noise at every step (eta 1 by default): the result depends on "
                                 "the seed. With eta 0 it is deterministic.",
    "NoisekitSamplerDpmpp3mSde": "The third-order sibling of dpmpp_2m_sde: fresh noise at every step by default; "
                                 "with eta 0 it is deterministic.",
    "NoisekitSamplerUnipc": "UniPC: a predictor-corrector that reuses each model call for the next step, so it is "
                            "of high order at one call per step. Order 2 is better below about 10 steps.",
    "NoisekitSamplerPcSigma": "noisekit's variant of UniPC, which follows the model's output as a function of the "
                              "noise level itself: its most accurate sampler from about 10 steps.",
    "NoisekitSamplerRepaint": "For inpainting: runs the `base` sampler and, after every `jump_length` steps, adds "
                              "noise back and redoes them (`jump_n_sample` times in all), so the repainted area "
                              "blends with what is kept. It costs about `jump_n_sample` times the model calls.",
    "NoisekitSamplerAnnealedMean": "For inpainting fills (Inpaint Photo's `anneal` method): at each noise level the "
                                   "current fill is noised afresh and denoised, which gives smooth, faithful fills.",
}


# ---- sampler numbers, measured on exact problems -----------------------------------------------------------

STEPS = 10  # the step count the errors are given at
MIXTURE = "an 8-dimensional mixture of 6 overlapping Gaussians (128 starts)"


class Measured(NamedTuple):
    calls: int  # model calls for STEPS steps
    order: float | None  # None: stochastic
    error: float | None  # RMS error at STEPS steps
    error_at_calls: float | None  # RMS error at the most steps that take at most STEPS model calls
    steps_at_calls: int | None


@functools.cache
def measurements() -> dict[str, Measured]:
    """Per sampler at its defaults: model calls, and for the deterministic ones (tag "ode") the order (on a
    Gaussian problem, whose exact ODE solution is closed-form, from 40 to 80 karras steps) and the RMS error at
    10 steps and at 10 model calls against the exact ODE solution on a Gaussian mixture (a DOP853 solve)."""
    sigma_max = float(get_sigmas("karras", 1)[0])  # the schedules' default range (SD1.x)
    problem = mixture(8, 6, (0.3, 1.0), seed=2)  # overlapping components: 32 starts rank the samplers as 128 do
    starts = mixture_start(problem, 128, sigma_max, seed=3)
    exact = problem.ode_solution(starts, sigma_max, 0.0, rtol=1e-9)
    gaussian = GaussianDenoiser(0.25, 0.5)
    unit = torch.randn(1, 64, generator=torch.Generator().manual_seed(0), dtype=torch.float64)

    def run(model, name, x, steps):
        model.calls = 0
        out = Sampler(name)(model, x.clone(), get_sigmas("karras", steps), extra_args={"seed": 0}, disable=True)
        return out, model.calls

    def gaussian_error(name, steps):
        mean, std = gaussian.marginal(sigma_max, unit)
        x = mean + std * unit
        return rms(run(gaussian, name, x, steps)[0], gaussian.ode_solution(x, sigma_max, 0.0))

    out = {}
    for entry in SAMPLERS:
        if "inpaint" in entry.tags:
            continue
        calls = run(gaussian, entry.name, sigma_max * unit, STEPS)[1]
        if "ode" not in entry.tags:
            out[entry.name] = Measured(calls, None, None, None, None)
            continue
        order = math.log2(gaussian_error(entry.name, 40) / gaussian_error(entry.name, 80))
        error = rms(run(problem, entry.name, starts, STEPS)[0], exact)
        steps = STEPS
        while run(gaussian, entry.name, sigma_max * unit, steps)[1] > STEPS:
            steps -= 1
        out[entry.name] = Measured(calls, order, error, rms(run(problem, entry.name, starts, steps)[0], exact), steps)
    return out


def measured_section(name: str) -> list[str]:
    entry = ENTRIES[name]
    if "inpaint" in entry.tags:
        return ["## Measured", "", "Not measured: it is an inpainting sampler, made for a masked model (Inpaint Photo, "
                "or Sample with a mask).", ""]
    m, euler = measurements()[entry.name], measurements()["euler"]
    lines = ["## Measured", "", f"- **Model calls:** {m.calls} for {STEPS} steps ({m.calls / STEPS:g} per step)."]
    if m.order is None:
        lines.append("- **Stochastic:** it adds fresh noise at every step, so its result depends on the seed and "
                     "there is no single exact answer to measure its error against."
                     + (" With eta 0 it is deterministic." if "eta" in entry.defaults() else ""))
    else:
        lines += [f"- **Order:** {m.order:.1f}: doubling the steps divides the error by about {2 ** m.order:.0f}.",
                  f"- **Error at {STEPS} steps:** {m.error:.3g}" + ("" if entry.name == "euler" else
                                                                    f" (euler: {euler.error:.3g})") + ".",
                  *([f"- **Error at {STEPS} model calls** ({m.steps_at_calls} steps): {m.error_at_calls:.3g}."]
                    if m.steps_at_calls != STEPS else [])]
        lines += ["", f"The error is the RMS distance to the exact result, with the karras schedule over SD1.x's range, "
                  f"on {MIXTURE} whose exact denoiser and ODE solution noisekit computes; the order comes from 40 and "
                  "80 steps on a Gaussian problem. Measured by docs/make_node_docs.py."]
    return lines + [""]


def sampler_table() -> list[str]:
    """All samplers side by side, for the Sampler (noisekit) page."""
    lines = ["## The samplers side by side", "", f"Measured as on each sampler's own page: model calls for {STEPS} "
             f"steps, order, and the RMS error at {STEPS} steps and at {STEPS} model calls on {MIXTURE}.", "",
             f"| sampler | model calls | order | error at {STEPS} steps | error at {STEPS} calls |",
             "| --- | --- | --- | --- | --- |"]
    for entry in SAMPLERS:
        m = measurements().get(entry.name)
        if m is None:
            lines.append(f"| {entry.name} | | | inpainting | |")
        elif m.order is None:
            lines.append(f"| {entry.name} | {m.calls} | | stochastic | |")
        else:
            lines.append(f"| {entry.name} | {m.calls} | {m.order:.1f} | {m.error:.3g} | {m.error_at_calls:.3g} |")
    return lines + [""]


# ---- pictures ----------------------------------------------------------------------------------------------

class Picture(NamedTuple):
    file: str  # under web/docs/images/
    caption: str
    draw: object  # () -> PIL image


KARRAS_10 = ("karras", lambda: get_sigmas("karras", 10))  # the plot's legend adds the step count
FLOW_10 = ("flow, shift 1", lambda: get_sigmas("flow", 10, shift=1.0))
# Tool settings for the pictures: the defaults would mostly give the input back
TOOL_EXAMPLES = {"split": {"step": 4}, "split_denoise": {"denoise": 0.6}, "set_first": {"sigma": 40.0},
                 "extend": {"points": 1}, "resample": {"steps": 5}, "multiply": {"factor": 0.5},
                 "clamp": {"sigma_min": 0.1, "sigma_max": 5.0}, "truncate": {"sigma_max": 3.0},
                 "flow_shift": {"shift": 3.0}}
GENERIC_SCHEDULES = ("karras", "exponential", "normal", "ays")


def defaults(cls) -> dict:
    """The widget defaults of a node class."""
    spec = cls.INPUT_TYPES()
    return {k: v[1]["default"] for part in ("required", "optional") for k, v in spec.get(part, {}).items()
            if len(v) > 1 and "default" in v[1]}


def sigma_plot(series) -> Image.Image:
    return plot_sigmas(series, 512, 288)


def tool_picture(name: str) -> Picture:
    cls, entry = NODE_CLASS_MAPPINGS[name], ENTRIES[name]
    params = {**defaults(cls), **TOOL_EXAMPLES.get(entry.name, {})}
    label, make = FLOW_10 if entry.name == "flow_shift" else KARRAS_10
    inputs, caption = {"sigmas": make()}, f"The node's output for a 10-step {label} input"
    if "binary" in entry.tags:  # splice: the first 5 levels of karras, then exponential from there
        label, caption = "karras, first 5 levels", "The node's output for the first 5 levels of a 10-step karras " \
                                                   "input and a 5-step exponential `other` from there"
        inputs = {"sigmas": make()[:5], "other": get_sigmas("exponential", 5, sigma_max=float(make()[4]))}
    settings = ", ".join(f"{k} {v}" for k, v in params.items())

    def draw():
        given = [(f"input: {label}", inputs["sigmas"])] + ([("other", inputs["other"])] if "other" in inputs else [])
        outputs = cls().apply(**inputs, **params)
        return sigma_plot(given + [(n, s) for n, s in zip(cls.RETURN_NAMES, outputs) if len(s)])

    caption += f", with {settings}" if settings else ""
    if "split" in entry.tags:
        caption += " (each part is drawn from step 0)"
    return Picture(f"{name}.png", caption, draw)


def photo(file: str, box=None, size=None) -> torch.Tensor:
    """An example input as an IMAGE [1,H,W,3], cropped to box (left, top, right, bottom), resized to size."""
    img = Image.open(INPUTS / file).convert("RGB")
    img = img.crop(box) if box else img
    return image_tensor(img.resize(size, Image.LANCZOS) if size else img)


def to_pil(image: torch.Tensor) -> Image.Image:
    return Image.fromarray((image[0].clamp(0, 1).numpy() * 255).round().astype(np.uint8))


def side_by_side(panels, gap: int = 4) -> Image.Image:
    """(label, PIL image) panels in a row on white, each label in a small band above its panel."""
    width = sum(p.width for _, p in panels) + gap * (len(panels) - 1)
    height = max(p.height for _, p in panels) + 16
    out = Image.new("RGB", (width, height), "white")
    draw, x = ImageDraw.Draw(out), 0
    for label, panel in panels:
        out.paste(panel, (x, 16))
        draw.text((x + panel.width / 2, 8), label, fill="black", anchor="mm")
        x += panel.width + gap
    return out


def bundled_model():
    return NODE_CLASS_MAPPINGS["NoisekitLoadModel"]().load("noisekit-default")[0]


def denoise_picture() -> Image.Image:
    noisy = photo("coffee_noisy25.png")
    node = NODE_CLASS_MAPPINGS["NoisekitDenoisePhoto"]
    clean = node().run(noisy, **defaults(node), model=bundled_model())[0]
    box = (330, 40, 530, 240)
    return side_by_side([("noisy (std 25/255)", to_pil(noisy).crop(box)), ("denoised", to_pil(clean).crop(box))])


INPAINT_BOX = (200, 90, 400, 270)  # chelsea: the box hole and part of the brush stroke


def inpaint_picture() -> Image.Image:
    image, node = photo("chelsea.png", INPAINT_BOX), NODE_CLASS_MAPPINGS["NoisekitInpaintPhoto"]
    mask = torch.from_numpy(np.asarray(Image.open(INPUTS / "chelsea_mask.png").convert("L").crop(INPAINT_BOX),
                                       dtype=np.float32) / 255)[None]
    filled = node().run(image, mask, **defaults(node), model=bundled_model())[0]
    holed = image.clone()
    holed[mask > 0.5] = 0
    return side_by_side([("mask (black)", to_pil(holed)), ("inpainted", to_pil(filled))])


FACE = (80, 0, 380, 300)  # chelsea's face


def noise_strip_picture() -> Image.Image:
    node = NODE_CLASS_MAPPINGS["NoisekitNoiseStrip"]
    sigmas = get_sigmas("exponential", 5, sigma_min=0.05, sigma_max=2.0)
    return to_pil(node().apply(photo("chelsea.png", FACE, (96, 96)), sigmas, **defaults(node))[0])


def forward_noise_picture() -> Image.Image:
    node, image = NODE_CLASS_MAPPINGS["NoisekitForwardNoise"], photo("chelsea.png", FACE, (128, 128))
    settings = {**defaults(node), "sigma": 0.5}
    return side_by_side([("clean", to_pil(image))] + [
        (f"{form}, sigma 0.5", to_pil(node().apply(**{**settings, "parameterisation": form}, image=image)[0]))
        for form in ("ve", "vp", "flow")])


def sample_picture() -> Image.Image:
    node = NODE_CLASS_MAPPINGS["NoisekitSample"]
    settings = {**defaults(node), "seed": 1, "batch_size": 4}
    images = node().run(bundled_model(), get_sigmas("karras", 25, sigma_min=0.002, sigma_max=80.0),
                        Sampler("euler"), **settings)[0]
    return side_by_side([(f"seed {settings['seed'] + i}", to_pil(image[None]).resize((128, 128), Image.NEAREST))
                         for i, image in enumerate(images)])


def generic_schedules() -> Image.Image:
    node, plot = NODE_CLASS_MAPPINGS["NoisekitSchedule"], NODE_CLASS_MAPPINGS["NoisekitSigmaPlot"]
    series = [node().make(**{**defaults(node), "schedule": s})[0] for s in GENERIC_SCHEDULES]
    inputs = {f"sigmas_{k}": s for k, s in enumerate(series, 1)}
    return to_pil(plot().plot(**inputs, width=512, height=288, labels=", ".join(GENERIC_SCHEDULES))[0])


def published_picture() -> Image.Image:
    chosen = ("SD1.5 - Align Your Steps", "SDXL - Align Your Steps", "FLUX.1 - Optimal Steps", "Wan - Optimal Steps")
    return plot_sigmas([(preset, get_sigmas("published", 10, preset=preset)) for preset in chosen], 512, 288, "flow t")


def published_table() -> list[str]:
    """Every preset of the Published schedule with the source of its numbers."""
    return ["## The published schedules", "", "| preset | tuned at | source |", "| --- | --- | --- |",
            *[f"| {name} | {p.steps} steps | {cell(p.source)} |" for name, p in PUBLISHED.items()], ""]


@functools.cache
def pictures() -> dict[str, Picture]:
    """Node name -> its picture (several pages may show one file)."""
    out = {}
    for name, cls in NODE_CLASS_MAPPINGS.items():
        if kind(name) == "schedule":
            made = cls().make(**defaults(cls))[0]
            out[name] = Picture(f"{name}.png", "The schedule at the node's defaults",
                                lambda made=made, label=ENTRIES[name].name: sigma_plot([(label, made)]))
        elif kind(name) == "tool":
            out[name] = tool_picture(name)
    schedules = Picture("schedules.png", f"{', '.join(GENERIC_SCHEDULES)} at the Schedule node's defaults, drawn by "
                                         "Sigma Plot", generic_schedules)
    custom = NODE_CLASS_MAPPINGS["NoisekitCustomSigmas"]
    out.update({
        "NoisekitSchedule": schedules,
        "NoisekitSigmaPlot": schedules,
        "NoisekitSchedulePublished": Picture("NoisekitSchedulePublished.png", "Four published schedules at 10 steps "
                                             "on Sigma Plot's flow t axis (t = sigma / (1 + sigma) for SD's)",
                                             published_picture),
        "NoisekitCustomSigmas": Picture("NoisekitCustomSigmas.png", "The default list",
                                        lambda: sigma_plot([("custom", custom().make(**defaults(custom))[0])])),
        "NoisekitDenoisePhoto": Picture("NoisekitDenoisePhoto.jpg", "A crop of example_workflows/input/"
                                        "coffee_noisy25.png before and after, at the node's defaults with the "
                                        "bundled model", denoise_picture),
        "NoisekitInpaintPhoto": Picture("NoisekitInpaintPhoto.jpg", "A crop of example_workflows/input/chelsea.png "
                                        "with its mask, before and after, at the node's defaults with the bundled "
                                        "model", inpaint_picture),
        "NoisekitNoiseStrip": Picture("NoisekitNoiseStrip.jpg", "A photo at the 6 levels of an exponential "
                                      "schedule from sigma 2 to 0.05, then 0", noise_strip_picture),
        "NoisekitForwardNoise": Picture("NoisekitForwardNoise.jpg", "The same noise at sigma 0.5 in the three "
                                        "parameterisations", forward_noise_picture),
        "NoisekitSample": Picture("NoisekitSample.jpg", "Four pictures the bundled model makes from noise (euler, "
                                  "karras 25 steps over the model's range 0.002 to 80, seed 1)", sample_picture),
    })
    return out


ICON = ROOT / "docs" / "icon.png"  # pyproject.toml's [tool.comfy] Icon, for the Comfy Registry and ComfyUI-Manager


def icon(size: int = 256) -> Image.Image:
    """A photo from noise to clean in vertical bands, one per level of a karras schedule (Noise Strip's frames),
    and that schedule's curve over it on a log scale, the final 0 at the bottom."""
    node = NODE_CLASS_MAPPINGS["NoisekitNoiseStrip"]
    sigmas = get_sigmas("karras", 7, sigma_min=0.05, sigma_max=4.0)
    frames = node().apply(photo("chelsea.png", FACE, (size, size)), sigmas, **defaults(node))[1]
    out, n = Image.new("RGB", (size, size)), len(frames)
    for k, frame in enumerate(frames):
        band = (k * size // n, 0, (k + 1) * size // n, size)
        out.paste(to_pil(frame[None]).crop(band), band[:2])
    top, bottom, hi, lo = size * 0.12, size * 0.88, math.log(sigmas[0]), math.log(sigmas[-2])
    points = [((k + 0.5) * size / n, bottom if s == 0 else top + (bottom - top) * 0.85 * (hi - math.log(s)) / (hi - lo))
              for k, s in enumerate(sigmas.tolist())]
    draw = ImageDraw.Draw(out)
    for colour, width in (("black", size // 16), ("white", size // 32)):
        draw.line(points, fill=colour, width=width, joint="curve")
        for x, y in points:
            r = width * 0.9
            draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
    return out


def save(image: Image.Image, path: Path):
    """Small files: charts as palette PNGs, photos as JPEG."""
    buffer = io.BytesIO()
    if path.suffix == ".png":
        image.convert("RGB").quantize(32).save(buffer, "PNG", optimize=True)
    else:
        image.convert("RGB").save(buffer, "JPEG", quality=82, optimize=True, progressive=True)
    path.write_bytes(buffer.getvalue())


# ---- pages -------------------------------------------------------------------------------------------------

def cell(text) -> str:
    """Text fit for one markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def number(value) -> str:
    if value == 2**64 - 1:
        return "2^64 - 1"
    return f"{value:.10g}" if isinstance(value, float) else str(value)


def input_row(name: str, spec: tuple, optional: bool) -> str:
    kind_, opts = spec[0], (spec[1] if len(spec) > 1 else {})
    label = f"`{name}`" + (" (optional)" if optional else "")
    if isinstance(kind_, (list, tuple)):
        return (f"| {label} | choice | `{opts.get('default', kind_[0])}` | "
                f"{cell(', '.join(str(c) for c in kind_))} | {cell(opts.get('tooltip', ''))} |")
    if "default" not in opts:  # a connection
        return f"| {label} | {kind_} | | | {cell(opts.get('tooltip', ''))} |"
    low, high = opts.get("min"), opts.get("max")
    span = (f"{number(low)} to {number(high)}" if low is not None and high is not None else
            f"at least {number(low)}" if low is not None else f"at most {number(high)}" if high is not None else "")
    default = f"`{cell(number(opts['default']))}`" if opts["default"] != "" else "(empty)"
    return f"| {label} | {kind_} | {default} | {span} | {cell(opts.get('tooltip', ''))} |"


def page(name: str) -> str:
    cls = NODE_CLASS_MAPPINGS[name]
    description = cell(cls.DESCRIPTION)
    lead = SUMMARY.get(name, description)
    lines = [f"# {NODE_DISPLAY_NAME_MAPPINGS[name]}", "", lead, ""]
    advice = [text for text in (WHEN.get(name), GUIDE.get(GENERIC.get(name, kind(name)))) if text]
    if advice:
        lines += ["## When to use it", ""] + [line for text in advice for line in (text, "")]
    spec = cls.INPUT_TYPES()
    rows = [input_row(k, v, part == "optional") for part in ("required", "optional") for k, v in
            spec.get(part, {}).items()]
    lines += ["## Inputs", ""] + (["| input | type | default | range | what it does |",
                                   "| --- | --- | --- | --- | --- |", *rows] if rows else ["None."]) + [""]
    tips = getattr(cls, "OUTPUT_TOOLTIPS", ())
    lines += ["## Outputs", "", "| output | type | what it is |", "| --- | --- | --- |"]
    lines += [f"| `{n}` | {t} | {cell(tips[i] if i < len(tips) else '')} |"
              for i, (n, t) in enumerate(zip(cls.RETURN_NAMES, cls.RETURN_TYPES))] + [""]
    if kind(name) == "sampler":
        lines += measured_section(name)
    if name == "NoisekitSampler":
        lines += sampler_table()
    if name == "NoisekitSchedulePublished":
        lines += published_table()
    picture = pictures().get(name)
    if picture:
        lines += ["## Picture", "", f"![{picture.caption}](images/{picture.file})", "", f"*{picture.caption}.*", ""]
    if name in SUMMARY:
        lines += ["## How it works", "", description, ""]
    lines.append(f"*{cls.CATEGORY} · node type `{name}` · page made by docs/make_node_docs.py from the node's own "
                 "declarations.*")
    return "\n".join(lines) + "\n"


def pages() -> dict[str, str]:
    """File name under web/docs -> text, for every registered node."""
    return {f"{name}.md": page(name) for name in NODE_CLASS_MAPPINGS}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    IMAGES.mkdir(parents=True, exist_ok=True)
    texts = pages()
    for stale in set(p.name for p in DOCS.glob("*.md")) - set(texts):
        (DOCS / stale).unlink()
    for file, text in texts.items():
        (DOCS / file).write_text(text)
    if "--text" not in argv:
        drawn = {p.file: p for p in pictures().values()}
        for stale in set(p.name for p in IMAGES.iterdir()) - set(drawn):
            (IMAGES / stale).unlink()
        for file, picture in drawn.items():
            save(picture.draw(), IMAGES / file)
        icon().quantize(256).save(ICON, optimize=True)  # a photo: all the colours a palette PNG holds
        for path in [*(IMAGES / file for file in drawn), ICON]:
            print(f"{path}: {path.stat().st_size // 1024} KB")
    print(f"{len(texts)} pages in {DOCS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
