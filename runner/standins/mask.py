"""Stand-ins for ComfyUI's mask nodes (comfy_extras/nodes_mask.py)."""
from __future__ import annotations

import torch

from ...photo.masks import grow_mask
from ... import limits
from .node import MAX_RESOLUTION, standin


@standin
class SolidMask:
    """A mask of one value."""
    RETURN_TYPES = ("MASK",)
    FUNCTION = "solid"
    CATEGORY = "mask"

    @classmethod
    def INPUT_TYPES(cls):
        size = {"default": 512, "min": 1, "max": MAX_RESOLUTION, "step": 1}
        return {"required": {"value": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01}),
                             "width": ("INT", size), "height": ("INT", size)}}

    def solid(self, value, width, height):
        limits.check_memory(f"SolidMask {width}x{height}", limits.tensor_bytes(height, width))
        return (torch.full((1, height, width), value, dtype=torch.float32),)


@standin
class InvertMask:
    """1 - mask."""
    RETURN_TYPES = ("MASK",)
    FUNCTION = "invert"
    CATEGORY = "mask"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"mask": ("MASK",)}}

    def invert(self, mask):
        return (1.0 - mask,)


@standin
class GrowMask:
    """Grey dilation (expand > 0) or erosion (< 0), one pixel per step; tapered corners = cross kernel."""
    RETURN_TYPES = ("MASK",)
    FUNCTION = "expand_mask"
    CATEGORY = "mask"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"mask": ("MASK",),
                             "expand": ("INT", {"default": 0, "min": -MAX_RESOLUTION, "max": MAX_RESOLUTION,
                                                "step": 1}),
                             "tapered_corners": ("BOOLEAN", {"default": True})}}

    def expand_mask(self, mask, expand, tapered_corners):
        m = mask.reshape(-1, *mask.shape[-2:])
        limits.check_memory("GrowMask", 8 * limits.tensor_bytes(*m.shape))  # 5 shifted copies and the padding
        return (grow_mask(m, expand, tapered_corners),)


@standin
class FeatherMask:
    """Fades the mask towards each edge over the given number of pixels."""
    RETURN_TYPES = ("MASK",)
    FUNCTION = "feather"
    CATEGORY = "mask"

    @classmethod
    def INPUT_TYPES(cls):
        edge = {"default": 0, "min": 0, "max": MAX_RESOLUTION, "step": 1}
        return {"required": {"mask": ("MASK",), "left": ("INT", edge), "top": ("INT", edge),
                             "right": ("INT", edge), "bottom": ("INT", edge)}}

    def feather(self, mask, left, top, right, bottom):
        out = mask.reshape(-1, *mask.shape[-2:]).clone()
        h, w = out.shape[-2:]
        left, right, top, bottom = min(left, w), min(right, w), min(top, h), min(bottom, h)
        # ComfyUI indexes the right/bottom ramps with -i, so i = 0 lands on the first column/row
        # (-0 == 0) and the last column/row gets the 2/n factor; kept so graphs give the same mask.
        for i in range(left):
            out[:, :, i] *= (i + 1) / left
        for i in range(right):
            out[:, :, -i] *= (i + 1) / right
        for i in range(top):
            out[:, i, :] *= (i + 1) / top
        for i in range(bottom):
            out[:, -i, :] *= (i + 1) / bottom
        return (out,)
