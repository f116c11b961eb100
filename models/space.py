"""IMAGE <-> model space, the shapes a network takes, and where a model runs.

ComfyUI's IMAGE is [B,H,W,C] in [0, 1]; pixel-space models (the bundled one) work on
[B,C,H,W] in [-1, 1], so x = 2 image - 1 and a noise std s on the [0, 1] scale is
sigma = 2 s in model space.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def image_to_model(image: torch.Tensor) -> torch.Tensor:
    """IMAGE [B,H,W,C] in [0, 1] -> model space [B,C,H,W] in [-1, 1]: x = 2 image - 1 (contiguous, so
    a network sees the same memory layout whichever view of an IMAGE it is given)."""
    return (image.movedim(-1, 1) * 2 - 1).contiguous()


def model_to_image(x: torch.Tensor) -> torch.Tensor:
    """Model space [B,C,H,W] -> [B,H,W,C]: (x + 1) / 2 clipped to [0, 1], the inverse of image_to_model."""
    return ((x.movedim(1, -1) + 1) / 2).clamp(0, 1)


def state_to_image(x: torch.Tensor) -> torch.Tensor:
    """A model-space state of any channel count as a float32 IMAGE [B,H,W,3] to look at: its first
    three channels, or its first channel as grey when it has fewer than 3."""
    x = x[:, :3] if x.shape[1] >= 3 else x[:, :1].expand(-1, 3, *x.shape[2:])
    return model_to_image(x).float()


def photo_to_model_sigma(sigma01: float) -> float:
    """Noise std on the [0, 1] photo scale -> sigma in the model's [-1, 1] space."""
    return 2.0 * sigma01


def forward_bytes(model, batch: int, height: int, width: int) -> int:
    """Peak memory of one model call on a batch of pictures (0 for an analytic denoiser: no network)."""
    config = getattr(getattr(model, "net", None), "config", None)
    return config.forward_bytes_per_pixel * batch * height * width if config is not None else 0


def model_device(model, fallback: torch.device | str = "cpu") -> torch.device:
    """Where a network's weights live (an analytic denoiser runs wherever its input is: ``fallback``)."""
    if isinstance(model, torch.nn.Module):
        for p in model.parameters():
            return p.device
    return torch.device(fallback)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad H and W up to a multiple (replicate when the image is too small to reflect)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


def input_multiple(model) -> int:
    """What the model's input height and width must be multiples of (8 when it does not say)."""
    config = getattr(getattr(model, "net", None), "config", None)
    return getattr(config, "multiple", 8)


class PixelVAE:
    """The "VAE" of a pixel-space model: encode = 2 image - 1, decode = (x + 1) / 2, same size. It speaks
    the VAE interface ComfyUI's nodes call (VAEEncode, VAEDecode, their tiled forms, inpaint encoders),
    so Load Model (noisekit)'s VAE output works with them, and noisekit's photo nodes take it too."""

    downscale_ratio = upscale_ratio = 1
    latent_channels = 3

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        return image_to_model(pixels[..., :3].float())

    def decode(self, samples: torch.Tensor) -> torch.Tensor:
        return model_to_image(samples.float())

    def encode_tiled(self, pixels: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        return self.encode(pixels)

    def decode_tiled(self, samples: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        return self.decode(samples)

    def spacial_compression_encode(self) -> int:
        return 1

    def spacial_compression_decode(self) -> int:
        return 1

    def temporal_compression_decode(self):
        return None
