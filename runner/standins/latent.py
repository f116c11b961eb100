"""Stand-ins for ComfyUI's EmptyLatentImage, VAEEncode and VAEDecode."""
from __future__ import annotations

import torch

from ... import limits
from .node import MAX_RESOLUTION, standin


@standin
class EmptyLatentImage:
    """A batch of zero latents [B, 4, H/8, W/8]."""
    RETURN_TYPES = ("LATENT",)
    FUNCTION = "generate"
    CATEGORY = "latent"

    @classmethod
    def INPUT_TYPES(cls):
        size = {"default": 512, "min": 16, "max": MAX_RESOLUTION, "step": 8}
        return {"required": {"width": ("INT", size), "height": ("INT", size),
                             "batch_size": ("INT", {"default": 1, "min": 1, "max": 4096})}}

    def generate(self, width, height, batch_size=1):
        limits.check_memory(f"EmptyLatentImage {batch_size}x{width}x{height}",
                            limits.tensor_bytes(batch_size, 4, height // 8, width // 8))
        return ({"samples": torch.zeros(batch_size, 4, height // 8, width // 8)},)


def vae_of(node: str, vae, method: str):
    """The VAE's ``method``, or an error naming the node and input (any object with it will do)."""
    fn = getattr(vae, method, None)
    if not callable(fn):
        raise ValueError(f"{node}: input 'vae' is a {type(vae).__name__}, not a VAE; connect a loader's VAE output "
                         "(Load Model (noisekit) has one)")
    return fn


@standin
class VAEEncode:
    """Pixels to latent through the VAE (its first three channels: alpha is dropped)."""
    RETURN_TYPES = ("LATENT",)
    FUNCTION = "encode"
    CATEGORY = "latent"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"pixels": ("IMAGE",), "vae": ("VAE",)}}

    def encode(self, vae, pixels):
        if not (isinstance(pixels, torch.Tensor) and pixels.ndim == 4):
            raise ValueError(f"VAEEncode: input 'pixels' must be an IMAGE [B,H,W,C], got "
                             f"{getattr(pixels, 'shape', type(pixels).__name__)}; connect an image output")
        return ({"samples": vae_of("VAEEncode", vae, "encode")(pixels[..., :3])},)


@standin
class VAEDecode:
    """Latent to pixels through the VAE."""
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "decode"
    CATEGORY = "latent"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples": ("LATENT",), "vae": ("VAE",)}}

    def decode(self, vae, samples):
        latent = samples.get("samples") if isinstance(samples, dict) else None
        channels = getattr(vae, "latent_channels", None)
        if not (isinstance(latent, torch.Tensor) and latent.ndim == 4 and channels in (None, latent.shape[1])):
            raise ValueError(f"VAEDecode: input 'samples' must be a LATENT [B,{channels or 'C'},H,W] for this VAE, got "
                             f"{tuple(getattr(latent, 'shape', ())) or type(samples).__name__}; encode with the "
                             "same VAE (VAEEncode) or sample a latent made for its model")
        return (vae_of("VAEDecode", vae, "decode")(latent),)
