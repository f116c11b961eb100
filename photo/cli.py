"""``noisekit denoise`` and ``noisekit inpaint``: photos in, photos out (photo/files.py)."""
from __future__ import annotations

import sys
import time

from .. import devices, progress
from ..models.loader import BUNDLED, load_model
from ..registry import default_of
from ..samplers import SAMPLERS, Sampler
from .denoise import MODES, denoise_photo
from .estimate import estimate_sigma
from .files import check_output, read_mask, read_photo, write_photo
from .inpaint import METHODS, inpaint
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


def cmd_denoise(args) -> int:
    start = time.perf_counter()
    check_output(args.output)
    sigma = parse_sigma(args.sigma)
    image, info = read_photo(args.input)
    h, w = image.shape[1:3]
    how = "given"
    if sigma == "auto":
        estimate, how = estimate_sigma(image[0]), "estimated"
        warning = noise_warning(estimate * 255)
        if warning:
            print(f"noisekit denoise: warning: {warning}", file=sys.stderr)
        sigma = estimate if estimate > NOISE_FLOOR else NOISE_FLOOR  # (NaN when nothing is measurable)
    print(f"{args.input}: {w}x{h} ({h * w / 1e6:.2f} MP), noise level {sigma * 255:.1f}/255 ({how})", flush=True)
    with devices.use_device(args.device) as device:
        model = load_model(args.model, device=device)
        out = denoise_photo(model, image, sigma, args.mode, args.steps, args.sampler, args.seed, args.tile,
                            args.overlap, progress=progress.tracker("denoise"), precision=args.precision)
    write_photo(out, info, args.output)
    seconds = time.perf_counter() - start
    print(f"wrote {args.output} in {seconds:.1f} s ({seconds * 1e6 / (h * w):.1f} s/MP)")
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
                      jump_n_sample=args.jump_n_sample, tile=args.tile, progress=progress.tracker("inpaint"))
    write_photo(out, info, args.output, keep=(out[0] == image[0]).all(-1).numpy())
    print(args.output)
    return 0


def add_parsers(sub):
    """Add the ``denoise`` and ``inpaint`` subcommands to the ``noisekit`` command's subparsers."""
    models = ", ".join(BUNDLED)
    den = sub.add_parser("denoise", help="denoise a photo with the bundled model",
                         description="Denoise a photo of any size (tiled). Prints the noise level, the size and the time.")
    den.add_argument("input", help="noisy photo: PNG (8/16-bit, grey/RGB/alpha) or JPEG")
    den.add_argument("output", help="where to write the result (.png or .jpg; never overwritten)")
    den.add_argument("--sigma", default="auto", help="noise std on the 0..255 scale, or auto (estimated)")
    den.add_argument("--mode", choices=MODES, default=default_of(denoise_photo, "mode"),
                     help="one_step: MMSE estimate, best PSNR; sample: run a sampler from the noise level")
    den.add_argument("--steps", type=int, default=default_of(denoise_photo, "steps"), help="steps in sample mode")
    den.add_argument("--sampler", choices=SAMPLERS.names(), default=default_of(denoise_photo, "sampler"), help="sampler in sample mode")
    den.add_argument("--overlap", type=int, help="tile overlap in pixels (default: tile / 8)")
    den.add_argument("--precision", choices=PRECISIONS, default=default_of(denoise_photo, "precision"),
                     help="auto: bf16 on CPUs that compute it natively (twice as fast, within 0.01 dB); fp32: "
                          "the same result on every machine")
    inp = sub.add_parser("inpaint", help="repaint the masked part of a photo with the bundled model",
                         description="Repaint where the mask is white (or transparent); elsewhere the output is "
                                     "the input, bit for bit.")
    inp.add_argument("input", help="photo: PNG (8/16-bit, grey/RGB/alpha) or JPEG")
    inp.add_argument("mask", help="same size as the photo; white = repaint (or, with alpha, transparent = repaint)")
    inp.add_argument("output", help="where to write the result (.png or .jpg; never overwritten)")
    inp.add_argument("--method", choices=METHODS, default=default_of(inpaint, "method"),
                     help="anneal: annealed posterior mean (highest PSNR); replace: sampling (varies with the seed); "
                          "repaint: replace plus RePaint resampling")
    inp.add_argument("--steps", type=int, default=default_of(inpaint, "steps"),
                     help="anneal: noise levels; replace/repaint: sampling steps (about 30)")
    inp.add_argument("--sampler", choices=SAMPLERS.names(),
                     help="base sampler (default: annealed_mean for anneal, else euler_ancestral)")
    inp.add_argument("--grow", type=int, default=default_of(inpaint, "grow"), help="dilate the mask by N pixels")
    inp.add_argument("--feather", type=int, default=default_of(inpaint, "feather"), help="soften the mask edge over N pixels")
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
        parser.add_argument("--model", default="noisekit-default", help=f"bundled model ({models}) or .safetensors path")
        parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps")
    den.set_defaults(func=cmd_denoise)
    inp.set_defaults(func=cmd_inpaint)
