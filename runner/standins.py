"""Stand-ins for the core ComfyUI nodes that saved graphs need around noisekit's,
used by the runner when ComfyUI is absent. Same class names, inputs, defaults and
behaviour as ComfyUI 0.8.0 (nodes.py, comfy_extras/nodes_mask.py), written anew;
each carries ``STANDIN = True`` so reports can say which stand-ins ran.

Files: the loaders read only inside the input directory (``name``, ``sub/name``,
``name [input]``); SaveImage writes ``prefix_00001_.png`` with the next free
counter, atomically (temp file + hard link, which fails rather than overwrite),
with the API prompt and the workflow in PNG text chunks as ComfyUI does.
"""
from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import random
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, ImageSequence
from PIL.PngImagePlugin import PngInfo

from ..samplers.inpaint import grow_mask

PATHS = {"input": os.path.abspath("input"), "output": os.path.abspath("output"),
         "temp": os.path.join(tempfile.gettempdir(), "noisekit-temp")}
MAX_RESOLUTION = 16384
ANNOTATIONS = {" [input]": "input", " [output]": "output", " [temp]": "temp"}


def _standin(cls):
    cls.STANDIN = True
    cls.DESCRIPTION = (cls.__doc__ or "").strip() + f" (noisekit runner stand-in for ComfyUI's {cls.__name__})"
    return cls


def input_files(images_only: bool) -> list[str]:
    root = PATHS["input"]
    if not os.path.isdir(root):
        return []
    files = [f for f in os.listdir(root) if os.path.isfile(os.path.join(root, f))]
    if images_only:
        files = [f for f in files if (mimetypes.guess_type(f)[0] or "").startswith("image/")]
    return sorted(files)


def resolve_input_path(name: str) -> str:
    """The real path of ``name`` inside its directory (input unless annotated), or ValueError if it leaves it."""
    folder = "input"
    for suffix, where in ANNOTATIONS.items():
        if name.endswith(suffix):
            name, folder = name[:-len(suffix)], where
    root = os.path.realpath(PATHS[folder])
    path = os.path.realpath(os.path.join(root, name))  # resolves '..' and symlinks before the check
    if os.path.isabs(name) or os.path.commonpath([root, path]) != root:
        raise ValueError(f"{name!r} is outside the {folder} directory {root}; copy the file into it and give "
                         "its name relative to that directory")
    return path


def check_image_file(name) -> bool | str:
    """VALIDATE_INPUTS of the loaders: True, or why the file cannot be used."""
    if not isinstance(name, str):
        return f"Invalid image file: {name!r}"
    try:
        path = resolve_input_path(name)
    except ValueError as e:
        return str(e)
    return True if os.path.isfile(path) else f"Invalid image file: {name} (no such file in {os.path.dirname(path)})"


def file_hash(name: str) -> str:
    with open(resolve_input_path(name), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """[..., C] in [0, 1] -> uint8 by truncation, as ComfyUI's np.clip(255 * x).astype(uint8)."""
    return np.clip(255.0 * image.detach().cpu().float().numpy(), 0, 255).astype(np.uint8)


def from_uint8(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(array).astype(np.float32) / 255.0)


def scale_16bit(frame: Image.Image) -> Image.Image:
    """ComfyUI's handling of 32-bit integer frames ('I', e.g. 16-bit PNG): divide by 255."""
    return frame.point(lambda v: v * (1 / 255)) if frame.mode == "I" else frame


@_standin
class LoadImage:
    """Loads an image from the input directory; MASK = 1 - alpha (zeros 64x64 without alpha)."""
    RETURN_TYPES = ("IMAGE", "MASK")
    FUNCTION = "load_image"
    CATEGORY = "image"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": (input_files(images_only=True), {"image_upload": True})}}

    def load_image(self, image):
        img = Image.open(resolve_input_path(image))
        images, masks, size = [], [], None
        for frame in ImageSequence.Iterator(img):
            frame = scale_16bit(ImageOps.exif_transpose(frame))
            rgb = frame.convert("RGB")
            size = size or rgb.size
            if rgb.size != size:
                continue  # ComfyUI keeps only the frames the size of the first
            images.append(from_uint8(np.array(rgb))[None])
            if "A" in frame.getbands():
                masks.append(1.0 - from_uint8(np.array(frame.getchannel("A")))[None])
            elif frame.mode == "P" and "transparency" in frame.info:
                masks.append(1.0 - from_uint8(np.array(frame.convert("RGBA").getchannel("A")))[None])
            else:
                masks.append(torch.zeros(1, 64, 64))
            if img.format == "MPO":
                break  # only the first frame of a multi-picture JPEG
        return torch.cat(images), torch.cat(masks)

    @classmethod
    def IS_CHANGED(cls, image):
        return file_hash(image)

    @classmethod
    def VALIDATE_INPUTS(cls, image):
        return check_image_file(image)


@_standin
class LoadImageMask:
    """Loads one channel of an image from the input directory as a MASK (alpha is inverted)."""
    RETURN_TYPES = ("MASK",)
    FUNCTION = "load_image"
    CATEGORY = "mask"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": (input_files(images_only=False), {"image_upload": True}),
                             "channel": (["alpha", "red", "green", "blue"],)}}

    def load_image(self, image, channel):
        img = ImageOps.exif_transpose(Image.open(resolve_input_path(image)))
        if img.getbands() != ("R", "G", "B", "A"):
            img = scale_16bit(img).convert("RGBA")
        band = channel[0].upper()
        mask = from_uint8(np.array(img.getchannel(band)))
        return ((1.0 - mask if band == "A" else mask)[None],)

    @classmethod
    def IS_CHANGED(cls, image, channel):
        return file_hash(image)

    @classmethod
    def VALIDATE_INPUTS(cls, image):
        return check_image_file(image)


def save_path(prefix: str, folder: str, width: int, height: int) -> tuple[str, str, int, str]:
    """(directory, file stem, first free counter, subfolder) for ``prefix`` as ComfyUI computes them,
    refusing a prefix that leaves ``folder``."""
    if "%" in prefix:
        now = time.localtime()
        for key, value in (("%width%", width), ("%height%", height), ("%year%", now.tm_year),
                           ("%month%", f"{now.tm_mon:02}"), ("%day%", f"{now.tm_mday:02}"),
                           ("%hour%", f"{now.tm_hour:02}"), ("%minute%", f"{now.tm_min:02}"),
                           ("%second%", f"{now.tm_sec:02}")):
            prefix = prefix.replace(key, str(value))
    subfolder, stem = os.path.split(os.path.normpath(prefix))
    root = os.path.abspath(folder)
    directory = os.path.abspath(os.path.join(root, subfolder))
    if os.path.isabs(subfolder) or os.path.commonpath([root, directory]) != root:
        raise ValueError(f"input 'filename_prefix': {prefix!r} would save outside the output directory {root}")
    os.makedirs(directory, exist_ok=True)
    counters = [int(f[len(stem) + 1:].split("_")[0]) for f in os.listdir(directory)
                if f.startswith(stem + "_") and f[len(stem) + 1:].split("_")[0].isdigit()]
    return directory, stem, max(counters, default=0) + 1, subfolder


def write_png_exclusive(img: Image.Image, directory: str, stem: str, counter: int, meta, level: int) -> tuple[str, int]:
    """Write ``stem_NNNNN_.png`` at the first free counter >= ``counter``: complete file or none, never
    replacing one (the temp file is hard-linked to its name, which fails if the name exists)."""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".noisekit-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            img.save(f, format="PNG", pnginfo=meta, compress_level=level)
        while True:
            path = os.path.join(directory, f"{stem}_{counter:05}_.png")
            try:
                os.link(tmp, path)
                return path, counter
            except FileExistsError:
                counter += 1
    finally:
        os.unlink(tmp)


@_standin
class SaveImage:
    """Saves the images to the output directory as PNG with the graph in the metadata."""
    RETURN_TYPES = ()
    FUNCTION = "save_images"
    OUTPUT_NODE = True
    CATEGORY = "image"
    folder, kind, prefix_append, compress_level = "output", "output", "", 4

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"images": ("IMAGE", {"tooltip": "The images to save."}),
                             "filename_prefix": ("STRING", {"default": "ComfyUI",
                                                            "tooltip": "The prefix for the file to save."})},
                "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}}

    def save_images(self, images, filename_prefix="ComfyUI", prompt=None, extra_pnginfo=None):
        directory, stem, counter, subfolder = save_path(filename_prefix + self.prefix_append, PATHS[self.folder],
                                                        images[0].shape[1], images[0].shape[0])
        meta = PngInfo()
        if prompt is not None:
            meta.add_text("prompt", json.dumps(prompt))
        for key, value in (extra_pnginfo or {}).items():
            meta.add_text(key, json.dumps(value))
        results = []
        for batch_number, image in enumerate(images):
            name = stem.replace("%batch_num%", str(batch_number))
            path, counter = write_png_exclusive(Image.fromarray(to_uint8(image)), directory, name, counter, meta,
                                                self.compress_level)
            results.append({"filename": os.path.basename(path), "subfolder": subfolder, "type": self.kind,
                            "path": path})
            counter += 1
        return {"ui": {"images": results}}


@_standin
class PreviewImage(SaveImage):
    """Saves the images to the temp directory for a preview."""
    folder, kind, compress_level = "temp", "temp", 1

    def __init__(self):
        self.prefix_append = "_temp_" + "".join(random.choice("abcdefghijklmnopqrstupvxyz") for _ in range(5))

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"images": ("IMAGE",)}, "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}}


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


@_standin
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
        if crop == "center":
            x = center_crop(x, width, height)
        if upscale_method == "lanczos":
            out = lanczos(x, width, height)
        else:
            out = F.interpolate(x, size=(height, width), mode=upscale_method)  # no clamp, as ComfyUI
        return (out.movedim(1, -1),)


@_standin
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


@_standin
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
        rgb = [((color >> shift) & 0xFF) / 0xFF for shift in (16, 8, 0)]
        return (torch.cat([torch.full([batch_size, height, width, 1], c) for c in rgb], dim=-1),)


@_standin
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
        return (torch.full((1, height, width), value, dtype=torch.float32),)


@_standin
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


@_standin
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
        return (grow_mask(m, expand, tapered_corners),)


@_standin
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


@_standin
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


@_standin
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
        return ({"samples": torch.zeros(batch_size, 4, height // 8, width // 8)},)


NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls in (
    LoadImage, LoadImageMask, SaveImage, PreviewImage, ImageScale, ImageInvert, EmptyImage, SolidMask, InvertMask,
    GrowMask, FeatherMask, ImageCompositeMasked, EmptyLatentImage)}
