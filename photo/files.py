"""Photo files: 8- and 16-bit PNG (grey, grey+alpha, RGB, RGBA) and JPEG in, the same out
(1-bit is written as 8-bit grey; palette and CMYK pictures as RGB).

The result is written in the input's colour mode and bit depth (a .jpg output is 8-bit): grey
is processed as 3 channels and averaged back, alpha is kept as it was. Where the caller says
so (inpainting's unmasked pixels) the input's stored values are copied, so those pixels are
bit-identical whatever the format. Every file noisekit writes appears complete or not at all
and never replaces an existing one (``write_numbered``, ``write_new``).
"""
from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageOps

from .. import limits
from ..files import write_new
from .params import PHOTO_BYTES_PER_PIXEL

FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
# 16-bit PNG colour types Pillow decodes to 8 bits, and its raw modes for the high and low byte of each sample
_PNG16 = {2: ("RGB", "RGB;16B", "RGB;16L"), 6: ("RGBA", "RGBA;16B", "RGBA;16L")}
GREY_ALPHA = 4  # the PNG colour type of grey + alpha, which Pillow also decodes to 8 bits at 16
GREY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L")


def open_image(path: str, what: str = "processing", bytes_per_pixel: int = PHOTO_BYTES_PER_PIXEL) -> Image.Image:
    """Image.open, refusing a picture whose work would not fit the memory budget before it is decoded
    (Pillow reads only the header here); Pillow's decompression-bomb refusal becomes a ValueError."""
    try:
        img = Image.open(path)
    except Image.DecompressionBombError as e:
        raise ValueError(f"{path}: {e}") from None
    width, height = img.size
    try:
        limits.check_memory(f"{what} {path} ({width}x{height})", width * height * bytes_per_pixel)
    except limits.OverBudget:
        img.close()
        raise
    return img


def png16_colour_type(path: str) -> int | None:
    """The PNG colour type if ``path`` is a 16-bit-per-sample PNG, else None."""
    with open(path, "rb") as f:
        head = f.read(33)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return head[25] if head[24] == 16 else None


def decode_png16(path: str, colour_type: int) -> np.ndarray:
    """uint16 [H,W,C] of a 16-bit grey + alpha or RGB(A) PNG. Pillow keeps only 8 bits of these, so decode
    the file twice, once keeping each sample's high byte and once its low byte, and join them. Grey + alpha
    has 4 bytes a pixel, as 8-bit RGBA: read as that, its bytes are the samples' high and low bytes."""
    if colour_type == GREY_ALPHA:
        with Image.open(path) as img:
            img.tile = [t._replace(args="RGBA") for t in img.tile]
            img.load()
            pairs = np.asarray(img).astype(np.uint16)
        return (pairs[..., 0::2] << 8) | pairs[..., 1::2]
    _, high, low = _PNG16[colour_type]
    planes = []
    for rawmode in (high, low):
        with Image.open(path) as img:
            img.tile = [t._replace(args=rawmode) for t in img.tile]
            img.load()
            planes.append(np.asarray(img).astype(np.uint16))
    return (planes[0] << 8) | planes[1]


def encode_png16(values: np.ndarray) -> bytes:
    """A 16-bit PNG of uint16 [H,W,2|3|4] (grey + alpha, RGB, RGBA; filter 0 rows, zlib): Pillow cannot
    write these."""
    h, w, c = values.shape
    rows = np.concatenate([np.zeros((h, 1), np.uint8), values.astype(">u2").view(np.uint8).reshape(h, -1)], 1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 16, {2: GREY_ALPHA, 3: 2, 4: 6}[c], 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
            + chunk(b"IEND", b""))


@dataclass
class PhotoFile:
    """What writing a photo back the way it was read needs: grey or colour, bits per sample, its alpha
    channel and ICC profile, and the values as stored (grey [H,W] or colour [H,W,3], alpha apart)."""

    grey: bool
    bits: int
    alpha: np.ndarray | None
    icc_profile: bytes | None
    stored: np.ndarray


def read_photo(path: str) -> tuple[torch.Tensor, PhotoFile]:
    """IMAGE [1,H,W,3] float32 in [0,1], and the file's PhotoFile."""
    with open_image(path) as opened:
        frames = getattr(opened, "n_frames", 1)
        if frames > 1:  # only the first frame would be worked on and written: the others would be lost
            raise ValueError(f"{path}: an animation of {frames} frames; the photo commands take one picture: "
                             "save the frame you want as a PNG or JPEG")
        img = ImageOps.exif_transpose(opened)
        colour_type = png16_colour_type(path) if opened.format == "PNG" else None
        grey, bits, alpha = img.mode in GREY_MODES, 8, None
        if colour_type in _PNG16 or colour_type == GREY_ALPHA:
            stored, bits = decode_png16(path, colour_type), 16
            if colour_type != 2:  # the last sample is alpha
                stored, alpha = stored[..., :-1], stored[..., -1]
            if colour_type == GREY_ALPHA:
                stored, grey = stored[..., 0], True
        elif img.mode in ("I", "I;16", "I;16B", "I;16L"):
            stored, bits = np.asarray(img).clip(0, 65535).astype(np.uint16), 16
        else:
            if "A" in img.getbands() or (img.mode == "P" and "transparency" in img.info):
                alpha = np.asarray(img.convert("RGBA").getchannel("A"))
            stored = np.asarray(img.convert("L" if grey else "RGB"))
        photo = PhotoFile(grey, bits, alpha, img.info.get("icc_profile"), stored)
    array = stored.astype(np.float32) / (65535.0 if bits == 16 else 255.0)
    array = np.repeat(array[..., None], 3, axis=-1) if array.ndim == 2 else array
    return torch.from_numpy(np.ascontiguousarray(array))[None], photo


def read_mask(path: str, size: tuple[int, int]) -> torch.Tensor:
    """MASK [1,H,W]: a grey/colour image's luminance (white = repaint), or for an image with
    alpha, its transparency (transparent = repaint), as ComfyUI's LoadImage mask."""
    with open_image(path, "reading the mask") as opened:
        img = ImageOps.exif_transpose(opened)
        if "A" in img.getbands():
            values = 1 - np.asarray(img.getchannel("A"), np.float32) / 255
        elif img.mode in ("I", "I;16", "I;16B", "I;16L"):
            values = np.asarray(img, np.float32).clip(0, 65535) / 65535
        else:
            values = np.asarray(img.convert("L"), np.float32) / 255
    if values.shape != size:
        raise ValueError(f"inpaint: the mask {path} is {values.shape[1]}x{values.shape[0]} but the photo is "
                         f"{size[1]}x{size[0]}; give a mask of the same size")
    return torch.from_numpy(np.ascontiguousarray(values))[None]


def to_stored(image: torch.Tensor, photo: PhotoFile, bits: int) -> np.ndarray:
    """IMAGE [1,H,W,3] -> integer values in the input's layout (grey: the channel mean)."""
    scale, dtype = (65535.0, np.uint16) if bits == 16 else (255.0, np.uint8)
    if not torch.isfinite(image).all():
        raise FloatingPointError("the result contains NaN or inf (a corrupt model, or numbers out of range); "
                                 "nothing was written")
    values = image[0].clamp(0, 1).double().numpy()
    values = values.mean(-1) if photo.grey else values
    return (values * scale).round().astype(dtype)


def check_output(path: str):
    """Refuse an output path before any work: an existing file, a missing folder, an unknown extension."""
    if os.path.exists(path):
        raise FileExistsError(f"{path} exists; noisekit never overwrites a file: choose another output name")
    if os.path.splitext(path)[1].lower() not in FORMATS:
        raise ValueError(f"{path}: unsupported output extension; use one of {', '.join(FORMATS)}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{path}: the folder {folder} does not exist; create it first")


def encode(values: np.ndarray, photo: PhotoFile, fmt: str, bits: int) -> bytes | Image.Image:
    alpha = photo.alpha
    if fmt == "PNG" and bits == 16 and (not photo.grey or alpha is not None):
        return encode_png16(values if alpha is None else np.dstack([values, alpha]))
    img = Image.fromarray(values)  # uint8 -> L/RGB, uint16 grey -> I;16
    if alpha is not None and fmt == "PNG":  # 8-bit here: a 16-bit alpha was written above
        img = Image.merge("LA" if photo.grey else "RGBA", (*img.split(), Image.fromarray(alpha)))
    return img


def write_photo(image: torch.Tensor, like: PhotoFile, path: str, keep: np.ndarray | None = None):
    """Write like the file ``like`` was read from (grey or colour, bit depth, alpha, ICC profile; .jpg is
    8-bit RGB or grey).
    Where ``keep`` is True (inpaint: where the pixel was not repainted) the input's stored values are
    copied, so those pixels are bit-identical even when a float round trip would not be.
    Atomic, and never overwrites: the file appears complete or not at all."""
    check_output(path)
    fmt = FORMATS[os.path.splitext(path)[1].lower()]
    bits = 8 if fmt == "JPEG" else like.bits
    values = to_stored(image, like, bits)
    if keep is not None and bits == like.bits:
        values[keep] = like.stored[keep]
    out = encode(values, like, fmt, bits)

    def save(f):
        if isinstance(out, bytes):
            f.write(out)
        else:
            extra = {"quality": 95, "subsampling": 0} if fmt == "JPEG" else {}
            if like.icc_profile:
                extra["icc_profile"] = like.icc_profile
            out.save(f, format=fmt, **extra)

    write_new(path, save)
