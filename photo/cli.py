"""``noisekit denoise`` and ``noisekit inpaint``: photos in, photos out (photo/files.py)."""
from __future__ import annotations

import argparse
import os
import sys
import time

from .. import devices, progress
from ..models.loader import BUNDLED, load_model
from ..registry import default_of
from ..samplers import SAMPLERS, Sampler
from .denoise import MODES, denoise_photo
from .estimate import estimate_sigma
from .files import check_output, read_mask, read_photo, write_photo
from .inpaint import METHODS, METHODS_HELP, inpaint
from .masks import MAX_EDGE
from .prefill import PREFILLS
from .tiling import PRECISIONS

# estimates outside this range (0..255 scale) are seldom right for a photo: say so, and how to override
PLAUSIBLE_NOISE = (1.0, 60.0)
NOISE_FLOOR = 0.5 / 255  # what a photo with no measurable noise is denoised at (8-bit rounding is 0.29/255)


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


def model_for(sigma: str, model: str | None = None) -> str:
    """``--model`` when given; else the camera-noise model for ``--sigma auto`` (real photos) and the
    white-noise model for a given ``--sigma N`` (which means white noise of std N)."""
    return model or ("noisekit-camera" if sigma == "auto" else "noisekit-default")


def int_in(lo: int, hi: int):
    """argparse type: an integer in [lo, hi] (the bounds of the matching node input)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be in [{lo}, {hi}], got {value}")
        return value
    return parse


def noise_warning(sigma255: float) -> str | None:
    """Why an estimated noise level (0..255 scale) looks implausible, or None."""
    low, high = PLAUSIBLE_NOISE
    if not sigma255 >= low:  # also NaN: no noise measurable at all
        return (f"the photo looks nearly noise-free (estimate below {low:g}/255): the result will be close to the "
                f"input; if you see noise, give its level with --sigma")
    if sigma255 > high:
        return (f"the estimate {sigma255:.1f}/255 is unusually high for a photo (texture or strong JPEG artefacts "
                f"can look like noise): if the result is too smooth, give a lower --sigma")
    return None


def denoise_file(model, args, source: str, target: str, say=lambda line: None):
    """Denoise the photo ``source`` into the new file ``target`` with the command's options; ``say`` gets a
    line with its size and the noise level used (a warning goes to stderr when an estimate is implausible)."""
    sigma = parse_sigma(args.sigma)
    image, info = read_photo(source)
    h, w = image.shape[1:3]
    how = "given"
    if sigma == "auto":
        estimate, how = estimate_sigma(image[0]), "estimated"
        warning = noise_warning(estimate * 255)
        if warning:
            print(f"noisekit denoise: {source}: warning: {warning}", file=sys.stderr)
        sigma = estimate if estimate > NOISE_FLOOR else NOISE_FLOOR  # (NaN when nothing is measurable)
    say(f"{source}: {w}x{h} ({h * w / 1e6:.2f} MP), noise level {sigma * 255:.1f}/255 ({how})")
    out = denoise_photo(model, image, sigma, args.mode, args.steps, args.sampler, args.seed, args.tile,
                        args.overlap, progress=progress.tracker("denoise"), precision=args.precision)
    write_photo(out, info, target)
    return h * w


def inpaint_file(model, args, source: str, mask_path: str, target: str):
    """Repaint the photo ``source`` where ``mask_path`` says, into the new file ``target``."""
    image, info = read_photo(source)
    mask = read_mask(mask_path, tuple(image.shape[1:3]))
    sampler = Sampler(args.sampler) if args.sampler else None
    out = inpaint(model, image, mask, args.method, args.steps, sampler, args.seed, args.grow,
                  args.feather, args.prefill, args.strength, jump_length=args.jump_length,
                  jump_n_sample=args.jump_n_sample, tile=args.tile, progress=progress.tracker("inpaint"))
    write_photo(out, info, target, keep=(out[0] == image[0]).all(-1).numpy())


def cmd_denoise(args) -> int:
    if os.path.isdir(args.input):  # every photo of a folder: photo/folder.py
        from .folder import run_folder

        return run_folder(args)
    check_output(args.output)
    parse_sigma(args.sigma)
    start = time.perf_counter()
    with devices.use_device(args.device) as device:
        pixels = denoise_file(load_model(model_for(args.sigma, args.model), device=device), args, args.input, args.output,
                              say=lambda line: print(line, flush=True))
    seconds = time.perf_counter() - start
    print(f"wrote {args.output} in {seconds:.1f} s ({seconds * 1e6 / pixels:.1f} s/MP)")
    return 0


def cmd_inpaint(args) -> int:
    if os.path.isdir(args.input):
        from .folder import run_folder

        return run_folder(args)
    check_output(args.output)
    with devices.use_device(args.device) as device:
        inpaint_file(load_model(args.model, device=device), args, args.input, args.mask, args.output)
    print(args.output)
    return 0


def add_parsers(sub):
    """Add the ``denoise`` and ``inpaint`` subcommands to the ``noisekit`` command's subparsers."""
    models = ", ".join(BUNDLED)
    den = sub.add_parser("denoise", help="denoise a photo with the bundled model",
                         description="Denoise a photo of any size (tiled), or every photo of a folder. Exit codes: "
                                     "0 done, 2 bad input, 3 a photo of the folder failed, 130 interrupted.")
    den.add_argument("input", help="noisy photo: PNG (8/16-bit, grey/RGB/alpha) or JPEG; or a folder of them")
    den.add_argument("output", help="where to write the result (.png or .jpg; never overwritten); for a folder, "
                                    "the folder the results go to, each named as its input")
    den.add_argument("--sigma", default="auto", help="noise std on the 0..255 scale, or auto (estimated)")
    den.add_argument("--mode", choices=MODES, default=default_of(denoise_photo, "mode"),
                     help="one_step: MMSE estimate, best PSNR; sample: run a sampler from the noise level")
    den.add_argument("--steps", type=int_in(1, 200), default=default_of(denoise_photo, "steps"), help="steps in sample mode")
    den.add_argument("--sampler", choices=SAMPLERS.names(), default=default_of(denoise_photo, "sampler"), help="sampler in sample mode")
    den.add_argument("--overlap", type=int, help="tile overlap in pixels (default: tile / 8)")
    den.add_argument("--precision", choices=PRECISIONS, default=default_of(denoise_photo, "precision"),
                     help="auto: bf16 on CPUs that compute it natively (twice as fast, within 0.01 dB); fp32: "
                          "the same result on every machine")
    inp = sub.add_parser("inpaint", help="repaint the masked part of a photo with the bundled model",
                         description="Repaint where the mask is white (or transparent); elsewhere the output is "
                                     "the input, bit for bit. Every photo of a folder when IN is one. Exit codes: "
                                     "0 done, 2 bad input, 3 a photo of the folder failed, 130 interrupted.")
    inp.add_argument("input", help="photo: PNG (8/16-bit, grey/RGB/alpha) or JPEG; or a folder of them")
    inp.add_argument("mask", help="same size as the photo; white = repaint (or, with alpha, transparent = repaint); "
                                  "for a folder, the folder of masks, each named as its photo (any extension)")
    inp.add_argument("output", help="where to write the result (.png or .jpg; never overwritten); for a folder, "
                                    "the folder the results go to, each named as its input")
    inp.add_argument("--method", choices=METHODS, default=default_of(inpaint, "method"),
                     help=METHODS_HELP)
    inp.add_argument("--steps", type=int_in(1, 500), default=default_of(inpaint, "steps"),
                     help="anneal: noise levels; replace/repaint: sampling steps (about 30)")
    inp.add_argument("--sampler", choices=SAMPLERS.names(),
                     help="base sampler (default: annealed_mean for anneal, else euler_ancestral)")
    inp.add_argument("--grow", type=int_in(0, MAX_EDGE), default=default_of(inpaint, "grow"), help="dilate the mask by N pixels")
    inp.add_argument("--feather", type=int_in(0, MAX_EDGE), default=default_of(inpaint, "feather"), help="soften the mask edge over N pixels")
    inp.add_argument("--prefill", choices=PREFILLS, default=default_of(inpaint, "prefill"),
                     help="fill the hole before noising")
    inp.add_argument("--strength", type=float, default=default_of(inpaint, "strength"),
                     help="1 = paint from pure noise; lower keeps the prefill's layout")
    inp.add_argument("--jump-length", type=int, default=default_of(inpaint, "jump_length"), help="RePaint: steps per jump")
    inp.add_argument("--jump-n-sample", type=int, default=default_of(inpaint, "jump_n_sample"), help="RePaint: passes over each jump")
    for parser in (den, inp):
        parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same result)")
        parser.add_argument("--tile", type=int, default=default_of(denoise_photo if parser is den else inpaint, "tile"),
                            help="tile size in pixels (bounds memory)")
        parser.add_argument("--model", default="noisekit-default", help=f"bundled model ({models}) or .safetensors path"
                            + (" (default: noisekit-camera with --sigma auto, noisekit-default with --sigma N)"
                               if parser is den else ""))
        parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps")
    den.set_defaults(func=cmd_denoise, model=None)  # None: model_for picks by --sigma
    inp.set_defaults(func=cmd_inpaint)
