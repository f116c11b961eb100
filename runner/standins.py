"""Stand-ins for the core ComfyUI nodes that saved graphs need around noisekit's,
with ComfyUI's names, inputs and behaviour. Used only when ComfyUI is absent.

Files: loaders read only inside the input directory; SaveImage writes
``prefix_00001_.png`` with the next free counter, atomically, never over an
existing file, with the graph in the PNG's text chunks as ComfyUI does.
"""
from __future__ import annotations

import json
import os
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from PIL.PngImagePlugin import PngInfo

from ..samplers.inpaint import grow_mask

PATHS = {"input": os.path.abspath("input"), "output": os.path.abspath("output"),
         "temp": os.path.join(tempfile.gettempdir(), "noisekit-preview")}
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
MAX = 16384


def input_files() -> list[str]:
    root = PATHS["input"]
    if not os.path.isdir(root):
        return []
    return sorted(f for f in os.listdir(root) if f.lower().endswith(IMAGE_EXTENSIONS))


def safe_input_path(name: str, node: str) -> str:
    """The file's path inside the input directory; refuses anything that leaves it."""
    root = os.path.realpath(PATHS["input"])
    path = os.path.realpath(os.path.join(root, name))
    if os.path.isabs(name) or os.path.commonpath([root, path]) != root:
        raise ValueError(f"{node}: input 'image': {name!r} is outside the input directory {root}; "
                         "copy the file into it and give its name")
    if not os.path.isfile(path):
        raise ValueError(f"{node}: input 'image': no file {name!r} in the input directory {root}")
    return path


def pil_to_array(img: Image.Image) -> np.ndarray:
    """[H, W, C] float32 in [0, 1], 16-bit images kept at full precision."""
    if img.mode in ("I;16", "I;16B", "I"):
        return (np.asarray(img, dtype=np.float32) / 65535.0)[..., None]
    return np.asarray(img, dtype=np.float32) / 255.0


def load_image_tensor(path: str) -> tuple[torch.Tensor, torch.Tensor]:
    """IMAGE [1,H,W,3] and MASK [1,H,W] (1 - alpha, or zeros 64x64 without alpha, as ComfyUI)."""
    img = ImageOps.exif_transpose(Image.open(path))
    array = pil_to_array(img)
    if img.mode in ("I;16", "I;16B", "I"):
        rgb = np.repeat(array, 3, axis=-1)
    else:
        rgb = pil_to_array(img.convert("RGB"))
    image = torch.from_numpy(np.ascontiguousarray(rgb))[None]
    if "A" in img.getbands():
        mask = 1.0 - torch.from_numpy(pil_to_array(img.getchannel("A")).copy())[None]
    else:
        mask = torch.zeros(1, 64, 64)
    return image, mask


class LoadImage:
    RETURN_TYPES = ("IMAGE", "MASK")
    FUNCTION = "load_image"
    CATEGORY = "image"
    STANDIN = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": (input_files(), {"image_upload": True})}}

    def load_image(self, image):
        return load_image_tensor(safe_input_path(image, "LoadImage"))


class LoadImageMask:
    RETURN_TYPES = ("MASK",)
    FUNCTION = "load_image"
    CATEGORY = "mask"
    STANDIN = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": (input_files(), {"image_upload": True}),
                             "channel": (["alpha", "red", "green", "blue"],)}}

    def load_image(self, image, channel):
        img = ImageOps.exif_transpose(Image.open(safe_input_path(image, "LoadImageMask")))
        band = channel[0].upper()
        if img.mode in ("I;16", "I;16B", "I"):
            img = img.point(lambda v: v / 257).convert("L")
        if band not in img.getbands():
            if band == "A" or img.mode != "L":
                return (torch.zeros(1, 64, 64),)
            band = "L"
        mask = torch.from_numpy(pil_to_array(img.getchannel(band)).copy())[None]
        return ((1.0 - mask) if band == "A" else mask,)


def save_png_exclusive(image: np.ndarray, folder: str, prefix: str, metadata: PngInfo | None) -> str:
    """Write prefix_NNNNN_.png with the first free counter; atomic, never overwriting."""
    os.makedirs(folder, exist_ok=True)
    base = os.path.basename(prefix)
    sub = os.path.join(folder, os.path.dirname(prefix))
    if os.path.commonpath([os.path.realpath(folder), os.path.realpath(sub)]) != os.path.realpath(folder):
        raise ValueError(f"SaveImage: input 'filename_prefix': {prefix!r} leaves the output directory")
    os.makedirs(sub, exist_ok=True)
    taken = [f for f in os.listdir(sub) if f.startswith(base + "_") and f.endswith("_.png")]
    counter = 1 + max((int(f[len(base) + 1:-5]) for f in taken if f[len(base) + 1:-5].isdigit()), default=0)
    fd, tmp = tempfile.mkstemp(dir=sub, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            Image.fromarray(image).save(f, format="PNG", pnginfo=metadata, compress_level=4)
        while True:
            final = os.path.join(sub, f"{base}_{counter:05}_.png")
            try:
                os.link(tmp, final)  # fails if the name exists: never overwrite
                return final
            except FileExistsError:
                counter += 1
    finally:
        os.unlink(tmp)


def to_uint8(image: torch.Tensor) -> np.ndarray:
    return (image.clamp(0, 1).cpu().numpy() * 255).round().astype(np.uint8)


class SaveImage:
    RETURN_TYPES = ()
    FUNCTION = "save_images"
    OUTPUT_NODE = True
    CATEGORY = "image"
    STANDIN = True
    folder, kind = "output", "output"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"images": ("IMAGE",), "filename_prefix": ("STRING", {"default": "ComfyUI"})},
                "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}}

    def save_images(self, images, filename_prefix="ComfyUI", prompt=None, extra_pnginfo=None):
        meta = PngInfo()
        if prompt is not None:
            meta.add_text("prompt", json.dumps(prompt))
        for key, value in (extra_pnginfo or {}).items():
            meta.add_text(key, json.dumps(value))
        results = []
        for image in images:
            path = save_png_exclusive(to_uint8(image), PATHS[self.folder], filename_prefix, meta)
            results.append({"filename": os.path.basename(path), "path": path, "type": self.kind,
                            "subfolder": os.path.relpath(os.path.dirname(path), PATHS[self.folder]).replace(".", "", 1)})
        return {"ui": {"images": results}}


class PreviewImage(SaveImage):
    folder, kind = "temp", "temp"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"images": ("IMAGE",)}, "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}}

    def save_images(self, images, prompt=None, extra_pnginfo=None):
        return super().save_images(images, "ComfyUI_temp", prompt, extra_pnginfo)


class ImageScale:
    upscale_methods = ["nearest-exact", "bilinear", "area", "bicubic", "lanczos"]
    crop_methods = ["disabled", "center"]
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "upscale"
    CATEGORY = "image/upscaling"
    STANDIN = True

    @classmethod
    def INPUT_TYPES(cls):
        size = {"default": 512, "min": 0, "max": MAX, "step": 1}
        return {"required": {"image": ("IMAGE",), "upscale_method": (cls.upscale_methods,),
                             "width": ("INT", size), "height": ("INT", size), "crop": (cls.crop_methods,)}}

    def upscale(self, image, upscale_method, width, height, crop):
        h, w = image.shape[1:3]
        if width == 0 and height == 0:
            return (image,)
        width = width or max(1, round(w * height / h))
        height = height or max(1, round(h * width / w))
        x = image.movedim(-1, 1)
        if crop == "center":  # crop to the target aspect ratio first
            ratio_in, ratio_out = w / h, width / height
            if ratio_in > ratio_out:
                cw = round(h * ratio_out)
                x = x[..., (w - cw) // 2:(w - cw) // 2 + cw]
            else:
                ch = round(w / ratio_out)
                x = x[..., (h - ch) // 2:(h - ch) // 2 + ch, :]
        if upscale_method == "lanczos":
            frames = [np.asarray(Image.fromarray(to_uint8(f.movedim(0, -1))).resize((width, height), Image.LANCZOS))
                      for f in x]
            return (torch.from_numpy(np.stack(frames).astype(np.float32) / 255.0),)
        mode = {"nearest-exact": "nearest-exact", "bilinear": "bilinear", "area": "area", "bicubic": "bicubic"}
        kwargs = {"align_corners": False} if upscale_method in ("bilinear", "bicubic") else {}
        return (F.interpolate(x, size=(height, width), mode=mode[upscale_method], **kwargs).movedim(1, -1).clamp(0, 1),)


class ImageInvert:
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "invert"
    CATEGORY = "image"
    STANDIN = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",)}}

    def invert(self, image):
        return (1.0 - image,)


class EmptyImage:
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "generate"
    CATEGORY = "image"
    STANDIN = True

    @classmethod
    def INPUT_TYPES(cls):
        size = {"default": 512, "min": 1, "max": MAX, "step": 1}
        return {"required": {"width": ("INT", size), "height": ("INT", size),
                             "batch_size": ("INT", {"default": 1, "min": 1, "max": 4096}),
                             "color": ("INT", {"default": 0, "min": 0, "max": 0xFFFFFF, "step": 1})}}

    def generate(self, width, height, batch_size=1, color=0):
        rgb = torch.tensor([(color >> 16) & 0xFF, (color >> 8) & 0xFF, color & 0xFF], dtype=torch.float32) / 255.0
        return (rgb.expand(batch_size, height, width, 3).clone(),)


class SolidMask:
    RETURN_TYPES = ("MASK",)
    FUNCTION = "solid"
    CATEGORY = "mask"
    STANDIN = True

    @classmethod
    def INPUT_TYPES(cls):
        size = {"default": 512, "min": 1, "max": MAX, "step": 1}
        return {"required": {"value": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01}),
                             "width": ("INT", size), "height": ("INT", size)}}

    def solid(self, value, width, height):
        return (torch.full((1, height, width), value),)


class InvertMask:
    RETURN_TYPES = ("MASK",)
    FUNCTION = "invert"
    CATEGORY = "mask"
    STANDIN = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"mask": ("MASK",)}}

    def invert(self, mask):
        return (1.0 - mask,)


class GrowMask:
    RETURN_TYPES = ("MASK",)
    FUNCTION = "expand_mask"
    CATEGORY = "mask"
    STANDIN = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"mask": ("MASK",), "expand": ("INT", {"default": 0, "min": -MAX, "max": MAX, "step": 1}),
                             "tapered_corners": ("BOOLEAN", {"default": True})}}

    def expand_mask(self, mask, expand, tapered_corners=True):
        return (grow_mask(mask, expand, tapered_corners),)


class FeatherMask:
    RETURN_TYPES = ("MASK",)
    FUNCTION = "feather"
    CATEGORY = "mask"
    STANDIN = True

    @classmethod
    def INPUT_TYPES(cls):
        edge = {"default": 0, "min": 0, "max": MAX, "step": 1}
        return {"required": {"mask": ("MASK",), "left": ("INT", edge), "top": ("INT", edge),
                             "right": ("INT", edge), "bottom": ("INT", edge)}}

    def feather(self, mask, left, top, right, bottom):
        out = mask.reshape(-1, *mask.shape[-2:]).clone()
        h, w = out.shape[-2:]
        for size, axis, from_end in ((left, -1, False), (right, -1, True), (top, -2, False), (bottom, -2, True)):
            n = min(size, out.shape[axis])
            ramp = (torch.arange(n, dtype=out.dtype) + 1) / n if n else None
            for i in range(n):
                idx = out.shape[axis] - 1 - i if from_end else i
                sl = (slice(None), slice(None), idx) if axis == -1 else (slice(None), idx, slice(None))
                out[sl] *= ramp[i]
        return (out,)


class ImageCompositeMasked:
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "composite"
    CATEGORY = "image"
    STANDIN = True

    @classmethod
    def INPUT_TYPES(cls):
        pos = {"default": 0, "min": 0, "max": MAX, "step": 1}
        return {"required": {"destination": ("IMAGE",), "source": ("IMAGE",), "x": ("INT", pos), "y": ("INT", pos),
                             "resize_source": ("BOOLEAN", {"default": False})},
                "optional": {"mask": ("MASK",)}}

    def composite(self, destination, source, x, y, resize_source, mask=None):
        out = destination.clone()
        if resize_source:
            source = F.interpolate(source.movedim(-1, 1), size=out.shape[1:3], mode="bilinear").movedim(1, -1)
        h, w = min(source.shape[1], out.shape[1] - y), min(source.shape[2], out.shape[2] - x)
        if h <= 0 or w <= 0:
            return (out,)
        m = torch.ones(1, h, w) if mask is None else mask.reshape(-1, *mask.shape[-2:])[:, :h, :w]
        if mask is not None and resize_source:
            m = F.interpolate(mask.reshape(-1, 1, *mask.shape[-2:]), size=out.shape[1:3]).squeeze(1)[:, :h, :w]
        region = out[:, y:y + h, x:x + w]
        out[:, y:y + h, x:x + w] = source[:, :h, :w] * m[..., None] + region * (1 - m[..., None])
        return (out,)


class EmptyLatentImage:
    RETURN_TYPES = ("LATENT",)
    FUNCTION = "generate"
    CATEGORY = "latent"
    STANDIN = True

    @classmethod
    def INPUT_TYPES(cls):
        size = {"default": 512, "min": 16, "max": MAX, "step": 8}
        return {"required": {"width": ("INT", size), "height": ("INT", size),
                             "batch_size": ("INT", {"default": 1, "min": 1, "max": 4096})}}

    def generate(self, width, height, batch_size=1):
        return ({"samples": torch.zeros(batch_size, 4, height // 8, width // 8)},)


NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls in (
    LoadImage, LoadImageMask, SaveImage, PreviewImage, ImageScale, ImageInvert, EmptyImage, SolidMask, InvertMask,
    GrowMask, FeatherMask, ImageCompositeMasked, EmptyLatentImage)}
