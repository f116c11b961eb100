"""``noisekit denoise`` and ``noisekit inpaint``: their arguments parsed into the options of a photo command
(photo/commands.py) or a folder run (photo/folder.py), and what they did, printed."""
from __future__ import annotations

import argparse
import os
import time

from .. import devices
from ..models.loader import BUNDLED, load_model
from ..registry import Param
from ..samplers import JUMP_LENGTH, JUMP_N_SAMPLE, SAMPLERS
from .commands import DenoisedPhoto, denoise_file, inpaint_file, model_for, warn_implausible
from .denoise import DenoiseOptions
from .files import check_output
from .folder import PhotoJob, run_folder
from .inpaint import InpaintOptions
from .params import (DENOISE_SAMPLER, DENOISE_STEPS, DENOISE_STRENGTH, DENOISE_TILE, FEATHER, GROW, INPAINT_STEPS, INPAINT_TILE, METHOD,
                     METHODS_HELP, MODE, NOISE_LEVEL, PRECISION, PREFILL, STRENGTH)


def parse_sigma(text: str):
    """--sigma: "auto" or the noise std on the 0..255 scale -> "auto" or the std on the [0, 1] scale."""
    if text == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"--sigma must be 'auto' or a number on the 0..255 scale, got {text!r}") from None
    if not NOISE_LEVEL.min < value <= NOISE_LEVEL.max:
        raise ValueError(f"--sigma must be in ({NOISE_LEVEL.min:g}, {NOISE_LEVEL.max:g}] (the noise std of 8-bit "
                         f"pixel values), got {text}")
    return value / 255.0


def within(p: Param):
    """argparse type: a number within a declared parameter's bounds (those of the matching node input)."""
    number = int if p.type == "INT" else float

    def parse(text: str):
        try:
            value = number(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {'whole ' if number is int else ''}number, got "
                                             f"{text!r}") from None
        if not p.min <= value <= p.max:
            raise argparse.ArgumentTypeError(f"must be in [{p.min:g}, {p.max:g}], got {value}")
        return value
    return parse


def cmd_denoise(args) -> int:
    options = DenoiseOptions(sigma=parse_sigma(args.sigma), mode=args.mode, steps=args.steps, sampler=args.sampler,
                             seed=args.seed, tile=args.tile, overlap=args.overlap, precision=args.precision,
                             strength=args.strength)
    model = model_for(options.sigma, args.model)
    if os.path.isdir(args.input):  # every photo of a folder
        return run_folder(PhotoJob(model, options, args.device), args.input, args.output, args.workers, args.ray,
                          args.json_progress)
    check_output(args.output)
    start = time.perf_counter()

    def starting(photo: DenoisedPhoto):
        warn_implausible(photo)
        print(photo.summary(), flush=True)

    with devices.use_device(args.device) as device:
        photo = denoise_file(load_model(model, device=device), options, args.input, args.output, starting)
    seconds = time.perf_counter() - start
    print(f"wrote {args.output} in {seconds:.1f} s ({seconds / photo.megapixels:.1f} s/MP)")
    return 0


def cmd_inpaint(args) -> int:
    options = InpaintOptions(method=args.method, steps=args.steps, sampler=args.sampler, seed=args.seed,
                             grow=args.grow, feather=args.feather, prefill=args.prefill, strength=args.strength,
                             jump_length=args.jump_length, jump_n_sample=args.jump_n_sample, tile=args.tile)
    if os.path.isdir(args.input):
        return run_folder(PhotoJob(args.model, options, args.device, masks=args.mask), args.input, args.output,
                          args.workers, args.ray, args.json_progress)
    check_output(args.output)
    with devices.use_device(args.device) as device:
        inpaint_file(load_model(args.model, device=device), options, args.input, args.mask, args.output)
    print(args.output)
    return 0


def add_parsers(sub):
    """Add the ``denoise`` and ``inpaint`` subcommands to the ``noisekit`` command's subparsers."""
    models = ", ".join(BUNDLED)
    den = sub.add_parser("denoise", help="denoise a photo with the bundled model",
                         description="Denoise a photo of any size (tiled), or every photo of a folder. Exit codes: "
                                     "0 done, 2 bad input, 3 a photo of the folder failed, 130 interrupted, 143 terminated "
                                     "(SIGTERM).")
    den.add_argument("input", help="noisy photo: PNG (8/16-bit, grey/RGB/alpha) or JPEG; or a folder of them")
    den.add_argument("output", help="where to write the result (.png or .jpg; never overwritten); for a folder, "
                                    "the folder the results go to, each named as its input")
    den.add_argument("--sigma", default="auto", help="noise std on the 0..255 scale, or auto (estimated)")
    den.add_argument("--strength", type=within(DENOISE_STRENGTH), default=DENOISE_STRENGTH.default,
                     help=DENOISE_STRENGTH.tooltip)
    den.add_argument("--mode", choices=MODE.choices, default=MODE.default,
                     help="one_step: MMSE estimate, best PSNR; sample: run a sampler from the noise level")
    den.add_argument("--steps", type=within(DENOISE_STEPS), default=DENOISE_STEPS.default, help="steps in sample mode")
    den.add_argument("--sampler", choices=DENOISE_SAMPLER.choices, default=DENOISE_SAMPLER.default,
                     help="sampler in sample mode")
    den.add_argument("--overlap", type=int, help="tile overlap in pixels (default: tile / 8)")
    den.add_argument("--precision", choices=PRECISION.choices, default=PRECISION.default, help=PRECISION.tooltip)
    inp = sub.add_parser("inpaint", help="repaint the masked part of a photo with the bundled model",
                         description="Repaint where the mask is white (or transparent); elsewhere the output is "
                                     "the input, bit for bit. Every photo of a folder when IN is one. Exit codes: "
                                     "0 done, 2 bad input, 3 a photo of the folder failed, 130 interrupted, 143 terminated "
                                     "(SIGTERM).")
    inp.add_argument("input", help="photo: PNG (8/16-bit, grey/RGB/alpha) or JPEG; or a folder of them")
    inp.add_argument("mask", help="same size as the photo; white = repaint (or, with alpha, transparent = repaint); "
                                  "for a folder, the folder of masks, each named as its photo (any extension)")
    inp.add_argument("output", help="where to write the result (.png or .jpg; never overwritten); for a folder, "
                                    "the folder the results go to, each named as its input")
    inp.add_argument("--method", choices=METHOD.choices, default=METHOD.default, help=METHODS_HELP)
    inp.add_argument("--steps", type=within(INPAINT_STEPS), default=INPAINT_STEPS.default,
                     help="anneal: noise levels; replace/repaint: sampling steps (about 30)")
    inp.add_argument("--sampler", choices=SAMPLERS.names(),
                     help="base sampler (default: annealed_mean for anneal, else euler_ancestral)")
    inp.add_argument("--grow", type=within(GROW), default=GROW.default, help="dilate the mask by N pixels")
    inp.add_argument("--feather", type=within(FEATHER), default=FEATHER.default,
                     help="soften the mask edge over N pixels")
    inp.add_argument("--prefill", choices=PREFILL.choices, default=PREFILL.default, help="fill the hole before noising")
    inp.add_argument("--strength", type=within(STRENGTH), default=STRENGTH.default,
                     help="1 = paint from pure noise; lower keeps the prefill's layout")
    inp.add_argument("--jump-length", type=within(JUMP_LENGTH), default=JUMP_LENGTH.default,
                     help="RePaint: steps per jump")
    inp.add_argument("--jump-n-sample", type=within(JUMP_N_SAMPLE), default=JUMP_N_SAMPLE.default,
                     help="RePaint: passes over each jump")
    for parser, options, tile in ((den, DenoiseOptions, DENOISE_TILE), (inp, InpaintOptions, INPAINT_TILE)):
        parser.add_argument("--seed", type=int, default=options.seed, help="random seed (same seed, same result)")
        parser.add_argument("--tile", type=within(tile), default=tile.default, help="tile size in pixels (bounds memory)")
        parser.add_argument("--model", default="noisekit-default", help=f"bundled model ({models}) or .safetensors path"
                            + (" (default: noisekit-camera with --sigma auto, noisekit-default with --sigma N)"
                               if parser is den else ""))
        parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps")
    den.set_defaults(func=cmd_denoise, model=None)  # None: model_for picks by --sigma
    inp.set_defaults(func=cmd_inpaint)
