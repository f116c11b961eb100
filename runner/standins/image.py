"""Stand-ins for ComfyUI's image nodes: scale, invert, a solid image, masked compositing."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ... import limits
from .files import from_uint8, to_uint8
from .node import MAX_RESOLUTION, standin


def center_crop(x: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Crop [B,C,H,W] symmetrically to the target aspect ratio (ComfyUI's common_upscale 'center')."""
    h, w = x.shape[-2:]
    old, new = w / h, width / height
    left = round((w - w * (new / old)) / 2) if old > new else 0
    top = round((h - h * (old / new)) / 2) if old < new else 0
    return x.narrow(-2, top, h - 2 * top).narrow(-1, left, w - 2 * left)


def lanczos(x: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Resize [B,C,H,W] through 8-bit PIL Lanczos, as ComfyUI does."""
    frames = [np.array(Image.fromarray(to_uint8(f.movedim(0, -1))).resize((width, height), Image.Resampling.LANCZOS))
              for f in x]
    return torch.stack([from_uint8(f).reshape(height, width, -1).movedim(-1, 0) for f in frames]).to(x)


@standin
class ImageScale:
    """Resizes images; a zero width or height keeps the aspect ratio."""
    upscale_methods = ["nearest-exact", "bilinear", "area", "bicubic", "lanczos"]
    crop_methods = ["disabled", "center"]
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "upscale"
    CATEGORY = "image/upscaling"

    @classmethod
    def INPUT_TYPES(cls):
        size = {"default": 512, "min": 0, "max": MAX_RESOLUTION, "step": 1}
        return {"required": {"image": ("IMAGE",), "upscale_method": (cls.upscale_methods,),
                             "width": ("INT", size), "height": ("INT", size), "crop": (cls.crop_methods,)}}

    def upscale(self, image, upscale_method, width, height, crop):
        if width == 0 and height == 0:
            return (image,)
        x = image.movedim(-1, 1)
        if width == 0:
            width = max(1, round(x.shape[3] * height / x.shape[2]))
        elif height == 0:
            height = max(1, round(x.shape[2] * width / x.shape[3]))
        limits.check_memory(f"ImageScale to {width}x{height}", 2 * limits.tensor_bytes(x.shape[0], x.shape[1], height,
                                                                                         width))
        if crop == "center":
            x = center_crop(x, width, height)
        if upscale_method == "lanczos":
            out = lanczos(x, width, height)
        else:
            out = F.interpolate(x, size=(height, width), mode=upscale_method)  # no clamp, as ComfyUI
        return (out.movedim(1, -1),)


@standin
class ImageInvert:
    """1 - image."""
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "invert"
    CATEGORY = "image"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",)}}

    def invert(self, image):
        return (1.0 - image,)


@standin
class EmptyImage:
    """A batch of images of one colour (0xRRGGBB)."""
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "generate"
    CATEGORY = "image"

    @classmethod
    def INPUT_TYPES(cls):
        size = {"default": 512, "min": 1, "max": MAX_RESOLUTION, "step": 1}
        return {"required": {"width": ("INT", size), "height": ("INT", size),
                             "batch_size": ("INT", {"default": 1, "min": 1, "max": 4096}),
                             "color": ("INT", {"default": 0, "min": 0, "max": 0xFFFFFF, "step": 1,
                                               "display": "color"})}}

    def generate(self, width, height, batch_size=1, color=0):
        limits.check_memory(f"EmptyImage {batch_size}x{width}x{height}", 2 * limits.tensor_bytes(batch_size, height,
                                                                                                width, 3))
        rgb = [((color >> shift) & 0xFF) / 0xFF for shift in (16, 8, 0)]
        return (torch.cat([torch.full([batch_size, height, width, 1], c) for c in rgb], dim=-1),)


def repeat_to_batch(x: torch.Tensor, size: int) -> torch.Tensor:
    """Cut or cycle the batch dimension to ``size``."""
    if x.shape[0] >= size:
        return x[:size]
    return x.repeat(-(-size // x.shape[0]), *([1] * (x.ndim - 1)))[:size]


def composite(destination, source, x: int, y: int, mask=None, resize_source=False):
    """Paste ``source`` [B,C,h,w] onto ``destination`` [B,C,H,W] (modified) at (x, y) through ``mask``
    (resized bilinearly to the source), clipped at the destination's edges."""
    if resize_source:
        source = F.interpolate(source, size=destination.shape[-2:], mode="bilinear")
    source = repeat_to_batch(source.to(destination.device), destination.shape[0])
    x = max(-source.shape[-1], min(x, destination.shape[-1]))
    y = max(-source.shape[-2], min(y, destination.shape[-2]))
    if mask is None:
        mask = torch.ones_like(source)
    else:
        mask = F.interpolate(mask.to(destination.device).reshape(-1, 1, *mask.shape[-2:]),
                             size=source.shape[-2:], mode="bilinear")
        mask = repeat_to_batch(mask, source.shape[0])
    visible_w, visible_h = destination.shape[-1] - x + min(0, x), destination.shape[-2] - y + min(0, y)
    mask = mask[:, :, :visible_h, :visible_w]
    region = destination[..., y:y + source.shape[-2], x:x + source.shape[-1]]
    destination[..., y:y + source.shape[-2], x:x + source.shape[-1]] = \
        mask * source[..., :visible_h, :visible_w] + (1 - mask) * region
    return destination


@standin
class ImageCompositeMasked:
    """Pastes the source image onto the destination at (x, y), through an optional mask."""
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "composite"
    CATEGORY = "image"

    @classmethod
    def INPUT_TYPES(cls):
        pos = {"default": 0, "min": 0, "max": MAX_RESOLUTION, "step": 1}
        return {"required": {"destination": ("IMAGE",), "source": ("IMAGE",), "x": ("INT", pos),
                             "y": ("INT", pos), "resize_source": ("BOOLEAN", {"default": False})},
                "optional": {"mask": ("MASK",)}}

    def composite(self, destination, source, x, y, resize_source, mask=None):
        if destination.shape[-1] < source.shape[-1]:  # RGBA onto RGB: drop the alpha
            source = source[..., :destination.shape[-1]]
        elif destination.shape[-1] > source.shape[-1]:  # RGB onto RGBA: the source is opaque
            # (ComfyUI 0.8.0 pads the destination instead and then fails on the channel mismatch)
            source = F.pad(source, (0, destination.shape[-1] - source.shape[-1]), value=1.0)
        out = composite(destination.clone().movedim(-1, 1), source.movedim(-1, 1), x, y, mask, resize_source)
        return (out.movedim(1, -1),)
