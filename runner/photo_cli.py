"""``noisekit denoise`` and ``noisekit inpaint``: photos in, photos out.

Reads 8- and 16-bit PNG and JPEG (grayscale stays grayscale, alpha is kept),
writes atomically and refuses to overwrite an existing file.
"""
from __future__ import annotations

import os
import tempfile

import numpy as np
import torch
from PIL import Image

from .. import devices, progress
from ..models.loader import load_model
from ..samplers import SAMPLERS, Sampler
from ..samplers.denoise import MODES, denoise
from ..samplers.inpaint import METHODS, PREFILLS, inpaint
from ..samplers.tiling import TiledDenoiser


def read_photo(path: str) -> tuple[torch.Tensor, dict]:
    """IMAGE [1,H,W,3] float32 in [0,1] and what is needed to write it back the same way."""
    img = Image.open(path)
    sixteen = img.mode in ("I;16", "I;16B", "I") or (img.mode == "RGB" and img.info.get("bits") == 16)
    info = {"mode": img.mode, "alpha": None, "bits": 16 if sixteen else 8, "size": img.size}
    if sixteen:
        array = np.asarray(img, dtype=np.float32) / 65535.0
        array = np.repeat(array[..., None], 3, axis=-1) if array.ndim == 2 else array
    else:
        if "A" in img.getbands():
            info["alpha"] = np.asarray(img.getchannel("A"))
        array = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(np.ascontiguousarray(array))[None], info


def check_output(path: str):
    if os.path.exists(path):
        raise FileExistsError(f"{path} exists; noisekit never overwrites: choose another output name")


def write_photo(image: torch.Tensor, info: dict, path: str):
    """Write like the input (mode, bit depth, alpha). Values read as v / 255 come back as v exactly,
    so untouched pixels stay bit-identical. Atomic; an existing file is never overwritten."""
    check_output(path)
    scale, dtype = (65535.0, np.uint16) if info["bits"] == 16 else (255.0, np.uint8)
    values = (image[0].clamp(0, 1).numpy() * scale).round().astype(dtype)
    if info["mode"] in ("L", "I;16", "I;16B", "I") or info["mode"] == "LA":
        grey = values.mean(-1).round().astype(dtype) if info["mode"] != "L" else values[..., 0]
        out = Image.fromarray(grey)  # uint8 -> "L", uint16 -> "I;16"
    else:
        out = Image.fromarray(values)
    if info["alpha"] is not None and info["bits"] == 8:
        out = out.convert("RGBA")
        out.putalpha(Image.fromarray(info["alpha"]))
    ext = os.path.splitext(path)[1].lower() or ".png"
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"}.get(ext)
    if fmt is None:
        raise ValueError(f"{path}: unsupported output extension {ext!r}; use .png or .jpg")
    if fmt == "JPEG" and out.mode == "RGBA":
        out = out.convert("RGB")
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            out.save(f, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
        os.link(tmp, path)  # atomic, and fails rather than overwrite a file created meanwhile
    finally:
        os.unlink(tmp)


def _sampler(name):
    return Sampler(name) if name else None


def cmd_denoise(args) -> int:
    check_output(args.output)
    devices.set_device(args.device)
    image, info = read_photo(args.input)
    model = load_model(args.model, device=devices.get_device())
    sigma = "auto" if args.sigma == "auto" else float(args.sigma) / 255.0
    count = TiledDenoiser(model, args.tile).count(*image.shape[1:3]) * (1 if args.mode == "one_step" else 2 * args.steps)
    bar = progress.progress_bar(count, "denoise")
    out = denoise(model, image, sigma, args.mode, args.steps, _sampler(args.sampler), args.seed, args.tile,
                  on_tile=lambda: bar.update(1))
    bar.close()
    write_photo(out, info, args.output)
    print(args.output)
    return 0


def cmd_inpaint(args) -> int:
    check_output(args.output)
    devices.set_device(args.device)
    image, info = read_photo(args.input)
    mask_img = Image.open(args.mask)
    mask_img = mask_img.getchannel("A").point(lambda v: 255 - v) if "A" in mask_img.getbands() else mask_img.convert("L")
    mask = torch.from_numpy(np.asarray(mask_img, dtype=np.float32) / 255.0)[None]
    if mask.shape[1:] != image.shape[1:3]:
        raise ValueError(f"inpaint: the mask {args.mask} is {tuple(mask.shape[1:])} but the photo is "
                         f"{tuple(image.shape[1:3])}; give a mask of the same size")
    model = load_model(args.model, device=devices.get_device())
    bar = progress.progress_bar(args.steps * (args.jump_n_sample if args.method == "repaint" else 1), "inpaint")
    out = inpaint(model, image, mask, args.method, args.steps, _sampler(args.sampler), args.seed, args.grow,
                  args.feather, args.prefill, args.strength, jump_length=args.jump_length,
                  jump_n_sample=args.jump_n_sample, tile=args.tile, on_step=lambda: bar.update(1))
    bar.close()
    write_photo(out, info, args.output)
    print(args.output)
    return 0


def add_parsers(sub):
    common = dict(model=("--model", {"default": "noisekit-default", "help": "bundled model name or .safetensors path"}),
                  device=("--device", {"default": "cpu", "help": "cpu, cuda, cuda:N or mps"}),
                  seed=("--seed", {"type": int, "default": 0, "help": "random seed"}),
                  tile=("--tile", {"type": int, "default": 512, "help": "tile size in pixels (bounded memory)"}),
                  sampler=("--sampler", {"choices": SAMPLERS.names(), "help": "sampler for sample mode / inpainting"}))
    den = sub.add_parser("denoise", help="denoise a photo with the bundled model")
    den.add_argument("input")
    den.add_argument("output")
    den.add_argument("--sigma", default="auto", help="noise std on the 0..255 scale, or auto (estimated)")
    den.add_argument("--mode", choices=MODES, default="one_step", help="one_step (MMSE, best PSNR) or sample")
    den.add_argument("--steps", type=int, default=8, help="steps in sample mode")
    inp = sub.add_parser("inpaint", help="inpaint a photo where the mask is white (or transparent)")
    inp.add_argument("input")
    inp.add_argument("mask", help="white = repaint (or an RGBA image: transparent = repaint)")
    inp.add_argument("output")
    inp.add_argument("--method", choices=METHODS, default="repaint")
    inp.add_argument("--steps", type=int, default=30)
    inp.add_argument("--grow", type=int, default=0, help="dilate the mask by N pixels")
    inp.add_argument("--feather", type=int, default=0, help="soft mask edge of N pixels")
    inp.add_argument("--prefill", choices=PREFILLS, default="diffuse")
    inp.add_argument("--strength", type=float, default=1.0)
    inp.add_argument("--jump-length", type=int, default=10)
    inp.add_argument("--jump-n-sample", type=int, default=2)
    for parser in (den, inp):
        for flag, opts in common.values():
            parser.add_argument(flag, **opts)
    den.set_defaults(func=cmd_denoise)
    inp.set_defaults(func=cmd_inpaint)
