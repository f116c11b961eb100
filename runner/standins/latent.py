"""Stand-in for ComfyUI's EmptyLatentImage."""
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
