"""Photo nodes: denoise and inpaint with the bundled pixel model on IMAGE directly, or with any ComfyUI
model through a GUIDER and its VAE (crop & stitch: the box is encoded, worked on in latent space through
ComfyUI's own model calls, decoded and blended back with the feathered mask)."""
from __future__ import annotations

import torch

from .. import devices, progress
from ..models.loader import BUNDLED, load_model
from ..photo.denoise import MODES, denoise_photo, denoise_state
from ..photo.estimate import estimate_sigma
from ..models.space import PixelVAE, photo_to_model_sigma
from ..photo.inpaint import METHODS, METHODS_HELP, inpaint, inpaint_state
from ..photo.masks import MAX_EDGE, crop_box, feather_mask, grow_mask
from ..photo.prefill import PREFILLS
from ..photo.stitch import fit_box, from_work, latent_mask, stitch, to_work, work_size
from ..registry import default_of
from . import adapter
from .inputs import SEED, NodeError, check_guider, check_image, check_mask, check_model, check_sampler, node_errors

CATEGORY = "noisekit/photo"
SAMPLER_INPUT = {"tooltip": "Optional SAMPLER (default: dpmpp_2m for denoise; for inpaint annealed_mean with anneal, "
                              "else euler_ancestral)."}
MODEL_INPUT = ("MODEL", {"tooltip": "Load Model (noisekit): its pixel model works on the photo directly. For any "
                                    "other checkpoint connect a GUIDER and a VAE instead."})
GUIDED_INPUTS = {
    "guider": ("GUIDER", {"tooltip": "Any ComfyUI model with its prompt (CFGGuider, BasicGuider, ...): the photo is "
                                     "VAE-encoded and the method runs on the latent through the guider."}),
    "vae": ("VAE", {"tooltip": "The VAE of the guider's model."}),
    "resolution": ("INT", {"default": 0, "min": 0, "max": 8192, "step": 8,
                           "tooltip": "With a guider: work at this longer side (e.g. 1024 for SDXL); 0 = the box's own "
                                      "size (padded to the VAE's multiple, no resampling)."})}
WHOLE = 1 << 16  # one tile: inside ComfyUI its model management budgets the memory


def guided(node: str, model, guider, vae):
    """(guider, vae) when the latent route is asked for, None for the pixel model; bad combinations named."""
    if guider is None and vae is None:
        if model is None:
            raise NodeError(node, "model", "connect Load Model (noisekit), or a GUIDER and a VAE for another model")
        return None
    if guider is None:
        raise NodeError(node, "guider", "a VAE needs a GUIDER (CFGGuider / BasicGuider) of the same model")
    if vae is None:
        raise NodeError(node, "vae", "connect the VAE of the guider's model")
    check_guider(node, guider)
    if not callable(getattr(vae, "encode", None)) or not callable(getattr(vae, "decode", None)):
        raise NodeError(node, "vae", f"expected a VAE, got {type(vae).__name__}")
    return guider, vae


def vae_multiple(vae) -> int:
    """Pixel sizes a VAE and its model like: 8 latent pixels (a UNet's downsampling) times its ratio."""
    ratio = vae.spacial_compression_encode() if hasattr(vae, "spacial_compression_encode") else 8
    return 8 * int(ratio)


def encode_box(vae, image, box, resolution):
    """(latent, work size): the box of IMAGE at its working size, padded to the VAE's multiple, encoded."""
    t, b, l, r = box
    size = work_size(b - t, r - l, resolution)
    return vae.encode(to_work(image[:, t:b, l:r], size, vae_multiple(vae))), size


def decode_box(vae, latent, size, box):
    """The latent decoded, its padding cut off, resized back to the box."""
    return from_work(vae.decode(latent).float(), size, box)


class LoadModel:
    DISPLAY = "Load Model (noisekit)"
    RETURN_TYPES = ("MODEL", "VAE")
    RETURN_NAMES = ("model", "vae")
    OUTPUT_TOOLTIPS = ("A pixel-space EDM denoiser: for noisekit's Sample, Denoise Photo and Inpaint Photo nodes, and "
                       "in ComfyUI a MODEL that KSampler, SamplerCustom and every ComfyUI sampler take.",
                       "Its pixel \"VAE\" (encode 2 image - 1, decode (x + 1) / 2, same size) for VAEEncode / "
                       "VAEDecode.")
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
        try:
            model = load_model(path.strip() or model_name, device=devices.get_device())
        except (OSError, ValueError) as e:
            raise NodeError(self.DISPLAY, "path" if path.strip() else "model_name", str(e)) from e
        return (adapter.comfy_model(model) if adapter.in_comfyui() else model, PixelVAE())


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
        return {"required": {
                    "image": ("IMAGE", {"tooltip": "The noisy photo."}),
                    "noise_level": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 200.0, "step": 0.5,
                                              "tooltip": "Noise std on the 0..255 scale; 0 = estimate it."}),
                    "mode": (list(MODES), {"default": default_of(denoise_photo, "mode"), "tooltip": "one_step (MMSE) or sample."}),
                    "steps": ("INT", {"default": default_of(denoise_photo, "steps"), "min": 1, "max": 200, "tooltip": "Steps in sample mode."}),
                    "seed": SEED,
                    "tile": ("INT", {"default": default_of(denoise_photo, "tile"), "min": 128, "max": 4096, "step": 64,
                                     "tooltip": "Tile size: smaller uses less memory."})},
                "optional": {"model": MODEL_INPUT, "sampler": ("SAMPLER", SAMPLER_INPUT), **GUIDED_INPUTS}}

    @node_errors
    def run(self, image, noise_level, mode, steps, seed, tile, model=None, sampler=None, guider=None, vae=None,
            resolution=0):
        route = guided(self.DISPLAY, model, guider, vae)
        image = check_image(self.DISPLAY, "image", image)
        sampler = check_sampler(self.DISPLAY, sampler) or default_of(denoise_photo, "sampler")
        if not 0 <= noise_level < 255:
            raise NodeError(self.DISPLAY, "noise_level", f"must be in [0, 255) on the 0..255 scale, got {noise_level}")
        if tile % 64:
            raise NodeError(self.DISPLAY, "tile", f"must be a multiple of 64, got {tile}")
        sigma = "auto" if noise_level == 0 else noise_level / 255.0
        if route is not None:
            return (self.guided(*route, image, sigma, mode, steps, sampler, seed, resolution),)
        model = check_model(self.DISPLAY, model, "connect a GUIDER and its VAE")
        return (denoise_photo(model, image, sigma, mode, steps, sampler, seed, tile,
                        progress=progress.tracker("denoise")),)

    def guided(self, guider, vae, image, sigma, mode, steps, sampler, seed, resolution):
        """Each photo VAE-encoded whole, denoised in latent space as a state at its noise level, decoded."""
        box = (0, image.shape[1], 0, image.shape[2])
        out = []
        for i, item in enumerate(image):
            level = photo_to_model_sigma(estimate_sigma(item) if sigma == "auto" else sigma)

            def run(model, x, i=i, level=level):
                if level > model.sigma_max:
                    raise ValueError(f"noise level {level:.3f} exceeds the model's sigma_max {model.sigma_max:g}")
                return denoise_state(model, x, max(level, model.sigma_min), mode, steps, sampler, seed + i)

            latent, size = encode_box(vae, item[None], box, resolution)
            out.append(decode_box(vae, adapter.run_guided(guider, latent, seed + i, run), size, box)[0])
        return torch.stack(out).to(image)


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
                    "image": ("IMAGE", {"tooltip": "The photo."}),
                    "mask": ("MASK", {"tooltip": "1 = repaint, 0 = keep; soft values blend."}),
                    "method": (list(METHODS), {"default": default_of(inpaint, "method"), "tooltip": METHODS_HELP + "."}),
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
                "optional": {"model": MODEL_INPUT, "sampler": ("SAMPLER", SAMPLER_INPUT), **GUIDED_INPUTS}}

    @node_errors
    def run(self, image, mask, method, steps, seed, grow, feather, prefill, strength, jump_length,
            jump_n_sample, model=None, sampler=None, guider=None, vae=None, resolution=0):
        route = guided(self.DISPLAY, model, guider, vae)
        image = check_image(self.DISPLAY, "image", image)
        mask = check_mask(self.DISPLAY, "mask", mask, image.shape[0], image.shape[1:3])
        sampler = check_sampler(self.DISPLAY, sampler)
        options = dict(method=method, steps=steps, sampler=sampler, seed=seed, prefill=prefill, strength=strength,
                       jump_length=jump_length, jump_n_sample=jump_n_sample, progress=progress.tracker("inpaint"))
        if route is not None:
            return (self.guided(*route, image, mask, grow, feather, resolution, **options),)
        model = check_model(self.DISPLAY, model, "connect a GUIDER and its VAE")
        return (inpaint(model, image, mask, grow=grow, feather=feather, **options),)

    def guided(self, guider, vae, image, mask, grow, feather, resolution, seed, **options):
        """The mask's box (plus context, grown to the VAE's multiple) encoded, inpainted in latent space,
        decoded and blended back with the feathered mask."""
        mask = feather_mask(grow_mask(mask, grow), feather)
        box = crop_box(mask, default_of(inpaint, "context"))
        if box[1] <= box[0]:
            return image.clone()
        box = fit_box(box, image.shape[1:3], vae_multiple(vae))
        t, b, l, r = box
        latent, size = encode_box(vae, image, box, resolution)
        work_mask = to_work(mask[:, t:b, l:r, None], size, vae_multiple(vae), pad="zeros")[..., 0]

        def run(model, x):
            return inpaint_state(model, x, latent_mask(work_mask, x.shape[-2:]).to(x), seed=seed, tile=WHOLE,
                                 **options)

        return stitch(image, decode_box(vae, adapter.run_guided(guider, latent, seed, run), size, box), mask, box)


NODE_CLASS_MAPPINGS = {"NoisekitLoadModel": LoadModel, "NoisekitDenoisePhoto": DenoisePhoto,
                       "NoisekitInpaintPhoto": InpaintPhoto}
NODE_DISPLAY_NAME_MAPPINGS = {k: v.DISPLAY for k, v in NODE_CLASS_MAPPINGS.items()}
