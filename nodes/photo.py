"""Photo nodes: their inputs (declared in photo/params.py) and checks; the work is photo/'s: denoise and
inpaint with the bundled pixel model on IMAGE directly, or with any ComfyUI model through a GUIDER and
its VAE (photo/latent.py, the guider reached through adapter.run_guided)."""
from __future__ import annotations

import functools

import torch

from .. import devices, progress
from ..models.loader import BUNDLED, load_model
from ..models.space import PixelVAE
from ..photo.denoise import DenoiseOptions, denoise_photo
from ..photo.inpaint import InpaintOptions, inpaint
from ..photo.latent import denoise_latent, inpaint_latent
from ..photo.params import (DENOISE_SAMPLER, DENOISE_STEPS, DENOISE_STRENGTH, DENOISE_TILE, FEATHER, GROW, INPAINT_STEPS, METHOD, MODE,
                            NOISE_LEVEL, PREFILL, RESOLUTION, STRENGTH)
from ..samplers import JUMP_LENGTH, JUMP_N_SAMPLE
from . import adapter
from .inputs import (SEED, NodeError, check_guider, check_image, check_mask, check_model, check_sampler, node_errors,
                     widget_spec)

CATEGORY = "noisekit/photo"
SAMPLER_INPUT = {"tooltip": f"Optional SAMPLER (default: {DENOISE_SAMPLER.default} for denoise; for inpaint "
                              "annealed_mean with anneal, else euler_ancestral)."}
MODEL_INPUT = ("MODEL", {"tooltip": "Load Model (noisekit): its pixel model works on the photo directly. For any "
                                    "other checkpoint connect a GUIDER and a VAE instead."})
GUIDER_INPUTS = {
    "guider": ("GUIDER", {"tooltip": "Any ComfyUI model with its prompt (CFGGuider, BasicGuider, ...): the photo is "
                                     "VAE-encoded and the method runs on the latent through the guider."}),
    "vae": ("VAE", {"tooltip": "The VAE of the guider's model."}),
    "resolution": widget_spec(RESOLUTION)}


def no_prompt() -> list:
    """A CONDITIONING of one zero token (the pixel model ignores it), made afresh: ComfyUI's nodes may edit theirs."""
    return [[torch.zeros(1, 1, 1), {}]]


def check_route(node: str, model, guider, vae) -> str:
    """The photo's route: "guider" (through a GUIDER and its VAE) or "model" (noisekit's pixel model on the
    photo itself); bad combinations named."""
    if guider is None and vae is None:
        if model is None:
            raise NodeError(node, "model", "connect Load Model (noisekit), or a GUIDER and a VAE for another model")
        return "model"
    if guider is None:
        raise NodeError(node, "guider", "a VAE needs a GUIDER (CFGGuider / BasicGuider) of the same model")
    if vae is None:
        raise NodeError(node, "vae", "connect the VAE of the guider's model")
    check_guider(node, guider)
    if not callable(getattr(vae, "encode", None)) or not callable(getattr(vae, "decode", None)):
        raise NodeError(node, "vae", f"expected a VAE, got {type(vae).__name__}")
    return "guider"


class LoadModel:
    DISPLAY = "Load Model (noisekit)"
    RETURN_TYPES = ("MODEL", "VAE", "CONDITIONING")
    RETURN_NAMES = ("model", "vae", "conditioning")
    OUTPUT_TOOLTIPS = ("A pixel-space EDM denoiser: for noisekit's Sample, Denoise Photo and Inpaint Photo nodes, and "
                       "in ComfyUI a MODEL that KSampler, SamplerCustom and every ComfyUI sampler take.",
                       "Its pixel \"VAE\" (encode 2 image - 1, decode (x + 1) / 2, same size) for VAEEncode / "
                       "VAEDecode.",
                       "An empty prompt (the model takes none), for KSampler's positive and negative or a "
                       "CFGGuider's / BasicGuider's conditioning.")
    FUNCTION = "load"
    CATEGORY = CATEGORY
    DESCRIPTION = ("Loads the bundled denoising model (no download) or a noisekit .safetensors file. In ComfyUI, "
                   "an empty latent for it is 3 x H/8 x W/8 pixels (EmptyLatentImage divides by 8); VAEEncode "
                   "of an image gives its full size.")

    @classmethod
    def INPUT_TYPES(cls):
        tooltip = ("A model shipped inside noisekit (no download): noisekit-default for white noise of a given "
                   "level, noisekit-camera for real photos' camera noise (what `noisekit denoise` uses for an "
                   "estimated level).")
        return {"required": {"model_name": (list(BUNDLED), {"default": "noisekit-default", "tooltip": tooltip})},
                "optional": {"path": ("STRING", {"default": "", "tooltip": "A .safetensors path (overrides model_name)."})}}

    @node_errors
    def load(self, model_name, path=""):
        try:  # weights as normal tensors, not inference ones: Tune Sampler's refinement differentiates through them
            with torch.inference_mode(False):
                model = load_model(path.strip() or model_name, device=devices.get_device())
        except (OSError, ValueError) as e:
            raise NodeError(self.DISPLAY, "path" if path.strip() else "model_name", str(e)) from e
        return (adapter.comfy_model(model) if adapter.in_comfyui() else model, PixelVAE(), no_prompt())


class DenoisePhoto:
    DISPLAY = "Denoise Photo (noisekit)"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)
    OUTPUT_TOOLTIPS = ("The denoised photo, same size.",)
    FUNCTION = "run"
    CATEGORY = CATEGORY
    DESCRIPTION = ("Removes Gaussian-like noise from a photo of any size (tiled). one_step is the MMSE estimate "
                   "(highest PSNR); sample runs a sampler from the photo's noise level (more detail). With a GUIDER "
                   "and VAE the photo's latent is denoised as a state at that noise level (for a latent model "
                   "noise_level acts as a strength).")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE", {"tooltip": "The noisy photo."}),
                             "noise_level": widget_spec(NOISE_LEVEL), "mode": widget_spec(MODE),
                             "steps": widget_spec(DENOISE_STEPS), "seed": SEED, "tile": widget_spec(DENOISE_TILE)},
                "optional": {"model": MODEL_INPUT, "sampler": ("SAMPLER", SAMPLER_INPUT), **GUIDER_INPUTS,
                             "strength": widget_spec(DENOISE_STRENGTH)}}

    @node_errors
    def run(self, image, noise_level, mode, steps, seed, tile, model=None, sampler=None, guider=None, vae=None,
            resolution=RESOLUTION.default, strength=DENOISE_STRENGTH.default):
        route = check_route(self.DISPLAY, model, guider, vae)
        image = check_image(self.DISPLAY, "image", image)
        sampler = check_sampler(self.DISPLAY, sampler) or DENOISE_SAMPLER.default
        if not NOISE_LEVEL.min <= noise_level <= NOISE_LEVEL.max:
            raise NodeError(self.DISPLAY, "noise_level", f"must be in [{NOISE_LEVEL.min:g}, {NOISE_LEVEL.max:g}] on "
                                                         f"the 0..255 scale, got {noise_level}")
        if not DENOISE_STRENGTH.min <= strength <= DENOISE_STRENGTH.max:
            raise NodeError(self.DISPLAY, "strength", f"must be in [{DENOISE_STRENGTH.min:g}, "
                                                      f"{DENOISE_STRENGTH.max:g}] (1 = the level as estimated or "
                                                      f"given), got {strength}")
        if tile % DENOISE_TILE.step:
            raise NodeError(self.DISPLAY, "tile", f"must be a multiple of {DENOISE_TILE.step}, got {tile}")
        options = DenoiseOptions(sigma="auto" if noise_level == 0 else noise_level / 255.0, strength=strength,
                                 mode=mode, steps=steps, sampler=sampler, seed=seed, tile=tile)
        if route == "guider":
            return (denoise_latent(vae, functools.partial(adapter.run_guided, guider), image, options, resolution),)
        model = check_model(self.DISPLAY, model, "connect a GUIDER and its VAE")
        return (denoise_photo(model, image, options, progress.tracker("denoise")),)


class InpaintPhoto:
    DISPLAY = "Inpaint Photo (noisekit)"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)
    OUTPUT_TOOLTIPS = ("The photo with the masked area repainted; unmasked pixels are the input's, bit for bit.",)
    FUNCTION = "run"
    CATEGORY = CATEGORY
    DESCRIPTION = ("Repaints the masked area (1 = repaint) of a photo: only the mask's bounding box plus context is "
                   "sampled. The hole is prefilled (biharmonic by default), noised to a level set by strength and "
                   "denoised: patch (the default) gives the model's fill the photo's own texture (a thin scratch "
                   "keeps the prefill), anneal denoises down a ladder of levels (smooth, highest PSNR in wide "
                   "holes), replace samples (the fill varies with the seed), repaint adds RePaint resampling.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE", {"tooltip": "The photo."}),
                             "mask": ("MASK", {"tooltip": "1 = repaint, 0 = keep; soft values blend."}),
                             "method": widget_spec(METHOD), "steps": widget_spec(INPAINT_STEPS), "seed": SEED,
                             "grow": widget_spec(GROW), "feather": widget_spec(FEATHER),
                             "prefill": widget_spec(PREFILL), "strength": widget_spec(STRENGTH),
                             "jump_length": widget_spec(JUMP_LENGTH), "jump_n_sample": widget_spec(JUMP_N_SAMPLE)},
                "optional": {"model": MODEL_INPUT, "sampler": ("SAMPLER", SAMPLER_INPUT), **GUIDER_INPUTS}}

    @node_errors
    def run(self, image, mask, method, steps, seed, grow, feather, prefill, strength, jump_length,
            jump_n_sample, model=None, sampler=None, guider=None, vae=None, resolution=RESOLUTION.default):
        route = check_route(self.DISPLAY, model, guider, vae)
        image = check_image(self.DISPLAY, "image", image)
        mask = check_mask(self.DISPLAY, "mask", mask, image.shape[0], image.shape[1:3])
        options = InpaintOptions(method=method, steps=steps, sampler=check_sampler(self.DISPLAY, sampler), seed=seed,
                                 grow=grow, feather=feather, prefill=prefill, strength=strength,
                                 jump_length=jump_length, jump_n_sample=jump_n_sample)
        if route == "guider":
            return (inpaint_latent(vae, functools.partial(adapter.run_guided, guider), image, mask, options, resolution,
                                   progress.tracker("inpaint")),)
        model = check_model(self.DISPLAY, model, "connect a GUIDER and its VAE")
        return (inpaint(model, image, mask, options, progress.tracker("inpaint")),)


NODE_CLASS_MAPPINGS = {"NoisekitLoadModel": LoadModel, "NoisekitDenoisePhoto": DenoisePhoto,
                       "NoisekitInpaintPhoto": InpaintPhoto}
NODE_DISPLAY_NAME_MAPPINGS = {k: v.DISPLAY for k, v in NODE_CLASS_MAPPINGS.items()}
