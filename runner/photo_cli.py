"""``noisekit denoise`` and ``noisekit inpaint``: photos in, photos out.

Reads 8- and 16-bit PNG (grey, grey+alpha, RGB, RGBA) and JPEG, and writes the
result in the same colour mode and bit depth (a .jpg output is 8-bit): grey is
processed as 3 channels and averaged back, alpha is kept as it was. Inpainting
copies the input's stored values wherever the mask is 0, so those pixels are
bit-identical whatever the format. Outputs are written atomically and an
existing file is never overwritten.
"""
from __future__ import annotations

import os
import struct
import tempfile
import zlib

import numpy as np
import torch
from PIL import Image, ImageOps

from .. import devices
from ..models.loader import BUNDLED, load_model
from ..nodes.photo import inpaint_default, progress_reporter
from ..samplers import SAMPLERS, Sampler
from ..samplers.denoise import MODES, denoise
from ..samplers.inpaint import METHODS, PREFILLS, inpaint

FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
# 16-bit PNG colour types Pillow decodes to 8 bits, and its raw modes for the high and low byte of each sample
_PNG16 = {2: ("RGB", "RGB;16B", "RGB;16L"), 6: ("RGBA", "RGBA;16B", "RGBA;16L")}


def png16_colour_type(path: str) -> int | None:
    """The PNG colour type if ``path`` is a 16-bit-per-sample PNG, else None."""
    with open(path, "rb") as f:
        head = f.read(33)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return head[25] if head[24] == 16 else None


def decode_png16(path: str, colour_type: int) -> np.ndarray:
    """uint16 [H,W,C] of a 16-bit RGB(A) PNG. Pillow keeps only 8 bits of these, so decode the
    file twice, once keeping each sample's high byte and once its low byte, and join them."""
    _, high, low = _PNG16[colour_type]
    planes = []
    for rawmode in (high, low):
        with Image.open(path) as img:
            img.tile = [t._replace(args=rawmode) for t in img.tile]
            img.load()
            planes.append(np.asarray(img).astype(np.uint16))
    return (planes[0] << 8) | planes[1]


def encode_png16(values: np.ndarray) -> bytes:
    """A 16-bit PNG of uint16 [H,W,3|4] (filter 0 rows, zlib): Pillow cannot write these."""
    h, w, c = values.shape
    rows = np.concatenate([np.zeros((h, 1), np.uint8), values.astype(">u2").view(np.uint8).reshape(h, -1)], 1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 16, {3: 2, 4: 6}[c], 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
            + chunk(b"IEND", b""))


def read_photo(path: str) -> tuple[torch.Tensor, dict]:
    """IMAGE [1,H,W,3] float32 in [0,1], and ``info``: what writing it back the same way needs
    (grey, bits, alpha, ICC profile) and the stored values themselves ("stored")."""
    with Image.open(path) as opened:
        img = ImageOps.exif_transpose(opened)
        colour_type = png16_colour_type(path) if opened.format == "PNG" else None
        info = {"grey": img.mode in ("L", "LA", "I", "I;16", "I;16B", "I;16L"), "bits": 8, "alpha": None,
                "icc_profile": img.info.get("icc_profile")}
        if colour_type in _PNG16:
            stored = decode_png16(path, colour_type)
            info["bits"] = 16
            if colour_type == 6:
                stored, info["alpha"] = stored[..., :3], stored[..., 3]
        elif img.mode in ("I", "I;16", "I;16B", "I;16L"):
            stored, info["bits"] = np.asarray(img).astype(np.uint16), 16
        else:
            if "A" in img.getbands() or (img.mode == "P" and "transparency" in img.info):
                info["alpha"] = np.asarray(img.convert("RGBA").getchannel("A"))
            stored = np.asarray(img.convert("L" if info["grey"] else "RGB"))
    info["stored"] = stored
    scale = 65535.0 if info["bits"] == 16 else 255.0
    array = stored.astype(np.float32) / scale
    array = np.repeat(array[..., None], 3, axis=-1) if array.ndim == 2 else array
    return torch.from_numpy(np.ascontiguousarray(array))[None], info


def read_mask(path: str, size: tuple[int, int]) -> torch.Tensor:
    """MASK [1,H,W]: a grey/colour image's luminance (white = repaint), or for an image with
    alpha, its transparency (transparent = repaint), as ComfyUI's LoadImage mask."""
    with Image.open(path) as opened:
        img = ImageOps.exif_transpose(opened)
        if "A" in img.getbands():
            values = 1 - np.asarray(img.getchannel("A"), np.float32) / 255
        elif img.mode in ("I", "I;16", "I;16B", "I;16L"):
            values = np.asarray(img, np.float32) / 65535
        else:
            values = np.asarray(img.convert("L"), np.float32) / 255
    if values.shape != size:
        raise ValueError(f"inpaint: the mask {path} is {values.shape[1]}x{values.shape[0]} but the photo is "
                         f"{size[1]}x{size[0]}; give a mask of the same size")
    return torch.from_numpy(np.ascontiguousarray(values))[None]


def to_stored(image: torch.Tensor, info: dict, bits: int) -> np.ndarray:
    """IMAGE [1,H,W,3] -> integer values in the input's layout (grey: the channel mean)."""
    scale, dtype = (65535.0, np.uint16) if bits == 16 else (255.0, np.uint8)
    values = image[0].clamp(0, 1).double().numpy()
    values = values.mean(-1) if info["grey"] else values
    return (values * scale).round().astype(dtype)


def check_output(path: str):
    if os.path.exists(path):
        raise FileExistsError(f"{path} exists; noisekit never overwrites a file: choose another output name")
    if os.path.splitext(path)[1].lower() not in FORMATS:
        raise ValueError(f"{path}: unsupported output extension; use one of {', '.join(FORMATS)}")


def encode(values: np.ndarray, info: dict, fmt: str, bits: int) -> bytes | Image.Image:
    alpha = info["alpha"]
    if fmt == "PNG" and bits == 16 and not info["grey"]:
        return encode_png16(values if alpha is None else np.dstack([values, alpha]))
    img = Image.fromarray(values)  # uint8 -> L/RGB, uint16 grey -> I;16
    if alpha is not None and fmt == "PNG":  # 8-bit here: 16-bit alpha only comes with 16-bit RGBA
        img = Image.merge("LA" if info["grey"] else "RGBA", (*img.split(), Image.fromarray(alpha)))
    return img


def write_photo(image: torch.Tensor, info: dict, path: str, keep: np.ndarray | None = None):
    """Write like the input (grey or colour, bit depth, alpha, ICC profile; .jpg is 8-bit RGB or grey).
    Where ``keep`` is True (inpaint: where the pixel was not repainted) the input's stored values are
    copied, so those pixels are bit-identical even when a float round trip would not be.
    Atomic, and never overwrites: the file appears complete or not at all."""
    check_output(path)
    fmt = FORMATS[os.path.splitext(path)[1].lower()]
    bits = 8 if fmt == "JPEG" else info["bits"]
    values = to_stored(image, info, bits)
    if keep is not None and bits == info["bits"]:
        values[keep] = info["stored"][keep]
    out = encode(values, info, fmt, bits)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(out, bytes):
                f.write(out)
            else:
                extra = {"quality": 95, "subsampling": 0} if fmt == "JPEG" else {}
                if info["icc_profile"]:
                    extra["icc_profile"] = info["icc_profile"]
                out.save(f, format=fmt, **extra)
        os.chmod(tmp, 0o644)
        os.link(tmp, path)  # atomic, and fails rather than overwrite a file made meanwhile
    finally:
        os.unlink(tmp)


def parse_sigma(text: str):
    """--sigma: "auto" or the noise std on the 0..255 scale -> the core's "auto" or [0, 1] scale."""
    if text == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"denoise: --sigma must be 'auto' or a number on the 0..255 scale, got {text!r}") from None
    if not 0 < value < 255:
        raise ValueError(f"denoise: --sigma must be in (0, 255) (the noise std of 8-bit pixel values), got {text}")
    return value / 255.0


def cmd_denoise(args) -> int:
    check_output(args.output)
    sigma = parse_sigma(args.sigma)
    image, info = read_photo(args.input)
    with devices.use_device(args.device) as device:
        model = load_model(args.model, device=device)
        out = denoise(model, image, sigma, args.mode, args.steps, Sampler(args.sampler), args.seed, args.tile,
                      args.overlap, progress=progress_reporter("denoise"))
    write_photo(out, info, args.output)
    print(args.output)
    return 0


def cmd_inpaint(args) -> int:
    check_output(args.output)
    image, info = read_photo(args.input)
    mask = read_mask(args.mask, tuple(image.shape[1:3]))
    with devices.use_device(args.device) as device:
        model = load_model(args.model, device=device)
        sampler = Sampler(args.sampler) if args.sampler else None
        out = inpaint(model, image, mask, args.method, args.steps, sampler, args.seed, args.grow,
                      args.feather, args.prefill, args.strength, jump_length=args.jump_length,
                      jump_n_sample=args.jump_n_sample, tile=args.tile, progress=progress_reporter("inpaint"))
    write_photo(out, info, args.output, keep=(out[0] == image[0]).all(-1).numpy())
    print(args.output)
    return 0


def add_parsers(sub):
    """Add the ``denoise`` and ``inpaint`` subcommands to the ``noisekit`` command's subparsers."""
    models = ", ".join(BUNDLED)
    den = sub.add_parser("denoise", help="denoise a photo with the bundled model",
                         description="Denoise a photo of any size (tiled). Exit codes: 0 done, 2 bad input.")
    den.add_argument("input", help="noisy photo: PNG (8/16-bit, grey/RGB/alpha) or JPEG")
    den.add_argument("output", help="where to write the result (.png or .jpg; never overwritten)")
    den.add_argument("--sigma", default="auto", help="noise std on the 0..255 scale, or auto (estimated)")
    den.add_argument("--mode", choices=MODES, default="one_step",
                     help="one_step: MMSE estimate, best PSNR; sample: run a sampler from the noise level")
    den.add_argument("--steps", type=int, default=8, help="steps in sample mode")
    den.add_argument("--sampler", choices=SAMPLERS.names(), default="dpmpp_2m", help="sampler in sample mode")
    den.add_argument("--overlap", type=int, help="tile overlap in pixels (default: min(64, tile / 4))")
    inp = sub.add_parser("inpaint", help="repaint the masked part of a photo with the bundled model",
                         description="Repaint where the mask is white (or transparent); elsewhere the output is "
                                     "the input, bit for bit. Exit codes: 0 done, 2 bad input.")
    inp.add_argument("input", help="photo: PNG (8/16-bit, grey/RGB/alpha) or JPEG")
    inp.add_argument("mask", help="same size as the photo; white = repaint (or, with alpha, transparent = repaint)")
    inp.add_argument("output", help="where to write the result (.png or .jpg; never overwritten)")
    inp.add_argument("--method", choices=METHODS, default=inpaint_default("method"),
                     help="anneal: annealed posterior mean (highest PSNR); replace: sampling (varies with the seed); "
                          "repaint: replace plus RePaint resampling")
    inp.add_argument("--steps", type=int, default=inpaint_default("steps"),
                     help="anneal: noise levels; replace/repaint: sampling steps (about 30)")
    inp.add_argument("--sampler", choices=SAMPLERS.names(),
                     help="base sampler (default: annealed_mean for anneal, else euler_ancestral)")
    inp.add_argument("--grow", type=int, default=0, help="dilate the mask by N pixels")
    inp.add_argument("--feather", type=int, default=0, help="soften the mask edge over N pixels")
    inp.add_argument("--prefill", choices=PREFILLS, default=inpaint_default("prefill_with"),
                     help="fill the hole before noising")
    inp.add_argument("--strength", type=float, default=inpaint_default("strength"),
                     help="1 = paint from pure noise; lower keeps the prefill's layout")
    inp.add_argument("--jump-length", type=int, default=10, help="RePaint: steps per jump")
    inp.add_argument("--jump-n-sample", type=int, default=2, help="RePaint: passes over each jump")
    for parser in (den, inp):
        parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same result)")
        parser.add_argument("--tile", type=int, default=512, help="tile size in pixels (bounds memory)")
        parser.add_argument("--model", default="noisekit-default", help=f"bundled model ({models}) or .safetensors path")
        parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps")
    den.set_defaults(func=cmd_denoise)
    inp.set_defaults(func=cmd_inpaint)
