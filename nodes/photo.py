"""Photo nodes: the bundled model, denoise and inpaint, on IMAGE directly (no VAE)."""
from __future__ import annotations

from .. import devices, progress
from ..models.loader import BUNDLED, load_model
from ..photo.denoise import MODES, denoise_photo
from ..photo.inpaint import METHODS, inpaint
from ..photo.masks import MAX_EDGE
from ..photo.prefill import PREFILLS
from ..registry import default_of
from .spec import SEED, NodeError, check_image, check_mask, check_model, check_sampler, node_errors

CATEGORY = "noisekit/photo"
SAMPLER_INPUT = {"tooltip": "Optional SAMPLER (default: dpmpp_2m for denoise; for inpaint annealed_mean with anneal, "
                              "else euler_ancestral)."}


class LoadModel:
    DISPLAY = "Load Model (noisekit)"
    RETURN_TYPES = ("MODEL",)
    RETURN_NAMES = ("model",)
    OUTPUT_TOOLTIPS = ("A pixel-space denoiser for noisekit's Sample, Denoise Photo and Inpaint Photo nodes.",)
    FUNCTION = "load"
    CATEGORY = CATEGORY
    DESCRIPTION = "Loads the bundled denoising model (no download) or a noisekit .safetensors file."

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model_name": (list(BUNDLED), {"default": "noisekit-default",
                                                            "tooltip": "A model shipped inside noisekit (no download)."})},
                "optional": {"path": ("STRING", {"default": "", "tooltip": "A .safetensors path (overrides model_name)."})}}

    @node_errors
    def load(self, model_name, path=""):
        try:
            return (load_model(path.strip() or model_name, device=devices.get_device()),)
        except (OSError, ValueError) as e:
            raise NodeError(self.DISPLAY, "path" if path.strip() else "model_name", str(e)) from e


class DenoisePhoto:
    DISPLAY = "Denoise Photo (noisekit)"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)
    OUTPUT_TOOLTIPS = ("The denoised photo, same size.",)
    FUNCTION = "run"
    CATEGORY = CATEGORY
    DESCRIPTION = ("Removes Gaussian-like noise from a photo of any size (tiled). one_step is the MMSE estimate "
                   "(highest PSNR); sample runs a sampler from the photo's noise level (more detail).")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
                    "model": ("MODEL", {"tooltip": "Load Model (noisekit)."}),
                    "image": ("IMAGE", {"tooltip": "The noisy photo."}),
                    "noise_level": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 200.0, "step": 0.5,
                                              "tooltip": "Noise std on the 0..255 scale; 0 = estimate it."}),
                    "mode": (list(MODES), {"default": default_of(denoise_photo, "mode"), "tooltip": "one_step (MMSE) or sample."}),
                    "steps": ("INT", {"default": default_of(denoise_photo, "steps"), "min": 1, "max": 200, "tooltip": "Steps in sample mode."}),
                    "seed": SEED,
                    "tile": ("INT", {"default": default_of(denoise_photo, "tile"), "min": 128, "max": 4096, "step": 64,
                                     "tooltip": "Tile size: smaller uses less memory."})},
                "optional": {"sampler": ("SAMPLER", SAMPLER_INPUT)}}

    @node_errors
    def run(self, model, image, noise_level, mode, steps, seed, tile, sampler=None):
        model = check_model(self.DISPLAY, model)
        image = check_image(self.DISPLAY, "image", image)
        sampler = check_sampler(self.DISPLAY, sampler) or default_of(denoise_photo, "sampler")
        if not 0 <= noise_level < 255:
            raise NodeError(self.DISPLAY, "noise_level", f"must be in [0, 255) on the 0..255 scale, got {noise_level}")
        if tile % 64:
            raise NodeError(self.DISPLAY, "tile", f"must be a multiple of 64, got {tile}")
        sigma = "auto" if noise_level == 0 else noise_level / 255.0
        return (denoise_photo(model, image, sigma, mode, steps, sampler, seed, tile,
                        progress=progress.tracker("denoise")),)


class InpaintPhoto:
    DISPLAY = "Inpaint Photo (noisekit)"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)
    OUTPUT_TOOLTIPS = ("The photo with the masked area repainted; unmasked pixels are the input's, bit for bit.",)
    FUNCTION = "run"
    CATEGORY = CATEGORY
    DESCRIPTION = ("Repaints the masked area (1 = repaint) of a photo: only the mask's bounding box plus context is "
                   "sampled. The hole is prefilled (biharmonic by default), noised to a level set by strength and "
                   "denoised: anneal denoises down a ladder of levels (highest PSNR), replace samples "
                   "(the fill varies with the seed), repaint adds RePaint resampling.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
                    "model": ("MODEL", {"tooltip": "Load Model (noisekit)."}),
                    "image": ("IMAGE", {"tooltip": "The photo."}),
                    "mask": ("MASK", {"tooltip": "1 = repaint, 0 = keep; soft values blend."}),
                    "method": (list(METHODS), {"default": default_of(inpaint, "method"), "tooltip": "anneal: annealed posterior mean (highest PSNR); replace: sampling (varies with the seed); "
                                           "repaint: replace plus RePaint resampling."}),
                    "steps": ("INT", {"default": default_of(inpaint, "steps"), "min": 1, "max": 500,
                                      "tooltip": "anneal: noise levels; replace / repaint: sampling steps (about 30)."}),
                    "seed": SEED,
                    "grow": ("INT", {"default": default_of(inpaint, "grow"), "min": 0, "max": MAX_EDGE, "tooltip": "Dilate the mask by pixels."}),
                    "feather": ("INT", {"default": default_of(inpaint, "feather"), "min": 0, "max": MAX_EDGE, "tooltip": "Soft edge width in pixels."}),
                    "prefill": (list(PREFILLS), {"default": default_of(inpaint, "prefill"),
                                "tooltip": "Fill the hole before noising (matters when strength < 1): the mean "
                                           "colour, a smooth harmonic (diffuse) or biharmonic fill, or none."}),
                    "strength": ("FLOAT", {"default": default_of(inpaint, "strength"), "min": 0.01, "max": 1.0, "step": 0.01,
                                           "tooltip": "1 = paint from pure noise; lower keeps the prefill's layout."}),
                    "jump_length": ("INT", {"default": default_of(inpaint, "jump_length"), "min": 1, "max": 100, "tooltip": "RePaint jump length."}),
                    "jump_n_sample": ("INT", {"default": default_of(inpaint, "jump_n_sample"), "min": 1, "max": 20, "tooltip": "RePaint resamplings."})},
                "optional": {"sampler": ("SAMPLER", SAMPLER_INPUT)}}

    @node_errors
    def run(self, model, image, mask, method, steps, seed, grow, feather, prefill, strength, jump_length,
            jump_n_sample, sampler=None):
        model = check_model(self.DISPLAY, model)
        image = check_image(self.DISPLAY, "image", image)
        mask = check_mask(self.DISPLAY, "mask", mask, image.shape[0], image.shape[1:3])
        sampler = check_sampler(self.DISPLAY, sampler)
        return (inpaint(model, image, mask, method, steps, sampler, seed, grow, feather, prefill, strength,
                        jump_length=jump_length, jump_n_sample=jump_n_sample, progress=progress.tracker("inpaint")),)


NODE_CLASS_MAPPINGS = {"NoisekitLoadModel": LoadModel, "NoisekitDenoisePhoto": DenoisePhoto,
                       "NoisekitInpaintPhoto": InpaintPhoto}
NODE_DISPLAY_NAME_MAPPINGS = {k: v.DISPLAY for k, v in NODE_CLASS_MAPPINGS.items()}
