"""Stand-ins that touch files, and their guards: loaders read only inside the input directory
(``name``, ``sub/name``, ``name [input]``); SaveImage writes ``prefix_00001_.png`` with the next
free counter, atomically and never replacing a file (noisekit/files.py), with the
API prompt and the workflow in PNG text chunks as ComfyUI does.
"""
from __future__ import annotations

import functools
import json
import mimetypes
import os
import random
import time

import numpy as np
import torch
from PIL import Image, ImageOps, ImageSequence
from PIL.PngImagePlugin import PngInfo

from ... import limits
from ...files import file_hash, temp_folder, write_numbered
from ...photo.files import open_image
from .node import standin

# "temp" is a private folder made per run (new_temp_dir; inside the command's scratch folder, removed when it
# ends), never a fixed shared path another user could plant
PATHS = {"input": os.path.abspath("input"), "output": os.path.abspath("output"), "temp": None}
LOAD_BYTES_PER_PIXEL = 32  # a loaded frame: float32 RGB plus its float32 mask, and Pillow's decoded copy


def new_temp_dir() -> str:
    """A fresh private (0700) folder for previews, used from now on."""
    PATHS["temp"] = temp_folder("noisekit-temp-")
    return PATHS["temp"]


def folder_of(kind: str) -> str:
    if kind == "temp" and PATHS["temp"] is None:
        new_temp_dir()
    return PATHS[kind]
ANNOTATIONS = {" [input]": "input", " [output]": "output", " [temp]": "temp"}


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
    root = os.path.realpath(folder_of(folder))
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


def input_hash(name: str) -> str:
    """sha256 of the input file ``name``."""
    return file_hash(resolve_input_path(name))


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """[..., C] in [0, 1] -> uint8 by truncation, as ComfyUI's np.clip(255 * x).astype(uint8)."""
    return np.clip(255.0 * image.detach().cpu().float().numpy(), 0, 255).astype(np.uint8)


def from_uint8(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(array).astype(np.float32) / 255.0)


def scale_16bit(frame: Image.Image) -> Image.Image:
    """ComfyUI's handling of integer frames ('I', and 'I;16' of a 16-bit grey PNG): divide by 255."""
    if frame.mode.startswith("I;16"):
        frame = frame.convert("I")
    return frame.point(lambda v: v * (1 / 255)) if frame.mode == "I" else frame


def picture_errors(load):
    """A loader whose picture cannot be read (no picture, cut short, a decompression bomb) refuses the value of
    its input 'image' (exit 2); the memory budget's refusal stays one (exit 3)."""
    @functools.wraps(load)
    def wrapper(self, image, *args, **kwargs):
        try:
            return load(self, image, *args, **kwargs)
        except limits.OverBudget:
            raise
        except (OSError, ValueError, SyntaxError) as e:  # SyntaxError: some Pillow plugins' "broken file"
            raise ValueError(f"input 'image': {image} cannot be read as a picture: {e}") from None
    return wrapper


@standin
class LoadImage:
    """Loads an image from the input directory; MASK = 1 - alpha (zeros 64x64 without alpha)."""
    RETURN_TYPES = ("IMAGE", "MASK")
    FUNCTION = "load_image"
    CATEGORY = "image"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": (input_files(images_only=True), {"image_upload": True})}}

    @picture_errors
    def load_image(self, image):
        img = open_image(resolve_input_path(image), "loading", LOAD_BYTES_PER_PIXEL)
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
        return input_hash(image)

    @classmethod
    def VALIDATE_INPUTS(cls, image):
        return check_image_file(image)


@standin
class LoadImageMask:
    """Loads one channel of an image from the input directory as a MASK (alpha is inverted)."""
    RETURN_TYPES = ("MASK",)
    FUNCTION = "load_image"
    CATEGORY = "mask"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": (input_files(images_only=False), {"image_upload": True}),
                             "channel": (["alpha", "red", "green", "blue"],)}}

    @picture_errors
    def load_image(self, image, channel):
        img = ImageOps.exif_transpose(open_image(resolve_input_path(image), "loading", LOAD_BYTES_PER_PIXEL))
        if img.getbands() != ("R", "G", "B", "A"):
            img = scale_16bit(img).convert("RGBA")
        band = channel[0].upper()
        mask = from_uint8(np.array(img.getchannel(band)))
        return ((1.0 - mask if band == "A" else mask)[None],)

    @classmethod
    def IS_CHANGED(cls, image, channel):
        return input_hash(image)

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
    os.makedirs(folder, exist_ok=True)
    root = os.path.realpath(folder)
    directory = os.path.realpath(os.path.join(root, subfolder))  # a symlink inside cannot lead out
    if os.path.isabs(subfolder) or os.path.commonpath([root, directory]) != root:
        raise ValueError(f"input 'filename_prefix': {prefix!r} would save outside the output directory {root}")
    os.makedirs(directory, exist_ok=True)
    counters = [int(f[len(stem) + 1:].split("_")[0]) for f in os.listdir(directory)
                if f.startswith(stem + "_") and f[len(stem) + 1:].split("_")[0].isdigit()]
    return directory, stem, max(counters, default=0) + 1, subfolder


@standin
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
        if len(images) == 0 or not all(torch.isfinite(image).all() for image in images):
            raise ValueError("input 'images': empty, or contains NaN or inf (it would be saved black)")
        directory, stem, counter, subfolder = save_path(filename_prefix + self.prefix_append, folder_of(self.folder),
                                                        images[0].shape[1], images[0].shape[0])
        meta = PngInfo()
        if prompt is not None:
            meta.add_text("prompt", json.dumps(prompt))
        for key, value in (extra_pnginfo or {}).items():
            meta.add_text(key, json.dumps(value))
        results = []
        for batch_number, image in enumerate(images):
            name = stem.replace("%batch_num%", str(batch_number))
            png = Image.fromarray(to_uint8(image))
            path, counter = write_numbered(directory, lambda n, name=name: f"{name}_{n:05}_.png", counter,
                                           lambda f, png=png: png.save(f, format="PNG", pnginfo=meta,
                                                                       compress_level=self.compress_level))
            results.append({"filename": os.path.basename(path), "subfolder": subfolder, "type": self.kind,
                            "path": path})
            counter += 1
        return {"ui": {"images": results}}


@standin
class PreviewImage(SaveImage):
    """Saves the images to the temp directory for a preview."""
    folder, kind, compress_level = "temp", "temp", 1

    def __init__(self):
        self.prefix_append = "_temp_" + "".join(random.choice("abcdefghijklmnopqrstupvxyz") for _ in range(5))

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"images": ("IMAGE",)}, "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}}
