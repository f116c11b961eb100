"""Blind denoising across camera pipelines.

    python -m noisekit.bench pipelines [--size 256] [--model PATH] [--skip-cbm3d] [--sheet PREFIX]
    python -m noisekit.bench pipelines --readings [--size 256]

Held-out photos (HELDOUT and MATE_HELDOUT, never trained on), centre crops, each through every
variant of training/pipelines.py VARIANTS: two from the training family and four built with stages
training never draws (VNG demosaic, Laplacian sharpening, Reinhard tone curve, and all of them with
row noise and JPEG q60: "another maker"). The reference is the same camera's look without the sensor
(no mosaic, no noise, no JPEG). Every method is blind: noisekit ``--sigma auto``; NL-means and CBM3D
at skimage's estimated sigma; and CBM3D at the grid sigma that is best on the variant's photos, an
oracle no user has. The margin column is noisekit's lead over the better of NL-means and that oracle.

--readings prints, per variant, the range over the photos of what auto's two readings (photo/estimate.py:
the three-channel estimate_sigma and luma_reading) read as a multiple of the noise's RMS, and the percentiles
of the luma reading over 300 cameras of the training family on training crops (what the camera model saw).
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from PIL import Image, ImageDraw

from ..models.loader import load_model
from ..photo.commands import model_for
from ..photo.denoise import DenoiseOptions, denoise_photo
from ..photo.estimate import estimate_sigma, luma_reading
from ..training.degrade import from_u8
from ..training.degrade import to_u8 as tensor_to_u8
from ..training.photos import HELDOUT, MATE_HELDOUT, MATE_TRAIN, TRAIN, WALLPAPERS, fetch_wallpapers, load_photo
from ..training.pipelines import VARIANTS, camera_output, draw_pipeline
from ..training.train import CAMERA_CROP, photo_pyramid, random_crops
from .denoise import blind_methods, centre_crop, oracle_cbm3d, psnr, ssim

STRENGTHS = (0.5, 1.0, 1.5, 2.0)  # the strength picture's columns
PICTURED = ("in family: Malvar, filmic, unsharp, q80", "held out: Laplacian sharpening", "held out: another maker")
PICTURE_CROP = 160  # the pictures' crop of each photo (its centre)


def through(photos: list[np.ndarray], name: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(noisy, clean look) 8-bit photos through the variant ``name``, each seeded by its index."""
    pairs = [camera_output(from_u8(p)[None], [VARIANTS[name]], torch.Generator().manual_seed(k))
             for k, p in enumerate(photos)]
    return [tensor_to_u8(n[0]) for n, _ in pairs], [tensor_to_u8(c[0]) for _, c in pairs]


def picture(columns: dict[str, list[np.ndarray]], path: str, photos: int = 3):
    """A labelled column per method, a row per photo (the first ``photos``, their centres)."""
    size = min(PICTURE_CROP, *next(iter(columns.values()))[0].shape[:2])
    grid = np.concatenate([np.concatenate([centre_crop(im, size) for im in images[:photos]], axis=0)
                           for images in columns.values()], axis=1)
    page = Image.new("RGB", (grid.shape[1], grid.shape[0] + 16), "white")
    page.paste(Image.fromarray(grid), (0, 16))
    draw = ImageDraw.Draw(page)
    for k, label in enumerate(columns):
        draw.text((k * size + 4, 2), label, fill=(0, 0, 0))
    page.save(path, quality=92)


def strength_picture(model, photos: list[np.ndarray], path: str, variant: str = "held out: another maker"):
    """noisy | --strength 0.5 .. 2 | clean on the first two photos through ``variant``, PSNR in the labels."""
    noisy, clean = through(photos[:2], variant)
    columns = {"noisy": noisy}
    for strength in STRENGTHS:
        outs = [tensor_to_u8(denoise_photo(model, from_u8(n).permute(1, 2, 0)[None],
                                           DenoiseOptions(strength=strength))[0].permute(2, 0, 1)) for n in noisy]
        columns[f"strength {strength:g}: {np.mean([psnr(o, c) for o, c in zip(outs, clean)]):.2f} dB"] = outs
    picture({**columns, "clean": clean}, path, photos=2)
    print(f"  picture (--strength on {variant!r}; PSNR over its two photos): {path}")


def pipelines_table(model, photos: list[np.ndarray], skip_cbm3d: bool = False, sheet: str = "denoise_bench"):
    """Print, per camera variant, mean PSNR (dB) / SSIM of every blind method, and write the pictures."""
    table = blind_methods(model)
    if skip_cbm3d:
        table.pop("CBM3D, skimage sigma", None)
    print(f"\ncamera pipelines (training/pipelines.py VARIANTS), {len(photos)} held-out photos, blind; "
          f"PSNR dB / SSIM against the camera's look without the sensor")
    header = ["noisy input", *table, *(() if skip_cbm3d else ("CBM3D, oracle fixed sigma",)), "margin"]
    print(f"{'variant':<42}" + "".join(f"{h[:24]:>26}" for h in header))
    for name in VARIANTS:
        noisy, clean = through(photos, name)
        score = lambda results, clean=clean: tuple(np.mean([(psnr(r, c), ssim(r, c)) for r, c in zip(results, clean)],
                                                           axis=0))
        results = {method: [fn(n) for n in noisy] for method, fn in table.items()}
        cells = [score(noisy), *(score(r) for r in results.values())]
        text = [f"{p:6.2f} / {q:.3f}" for p, q in cells]
        rivals = [score(results["NL-means, skimage sigma"])[0]]
        if not skip_cbm3d:
            (p, q), s, results["CBM3D, oracle fixed sigma"] = oracle_cbm3d(noisy, score)
            text.append(f"{p:6.2f} / {q:.3f} @{s}")
            rivals.append(p)
        margin = score(results["noisekit one-step, auto"])[0] - max(rivals)
        print(f"{name:<42}" + "".join(f"{t:>26}" for t in text) + f"{margin:>+26.2f}", flush=True)
        if name in PICTURED:
            columns = {"noisy": noisy, "noisekit auto": results["noisekit one-step, auto"],
                       "NL-means": results["NL-means, skimage sigma"]}
            if "CBM3D, oracle fixed sigma" in results:
                columns["CBM3D (oracle sigma)"] = results["CBM3D, oracle fixed sigma"]
            path = f"{sheet}_{name.split(':')[1].split(',')[0].strip().replace(' ', '_').lower()}.jpg"
            picture({**columns, "clean": clean}, path)
            print(f"  picture (rows: photos; columns: {' | '.join(columns)} | clean): {path}")


def readings(photos: list[np.ndarray], samples: int = 300):
    """What each reading makes of camera noise: its ratio to the RMS per variant; the family's luma readings."""
    print(f"{'variant':<42}{'estimate_sigma / RMS':>24}{'luma_reading / RMS':>24}")
    for name in VARIANTS:
        ratios = []
        for n, c in zip(*through(photos, name)):
            rms = float(np.sqrt(np.mean((n.astype(np.float64) - c) ** 2))) / 255
            image = torch.from_numpy(n.astype(np.float32) / 255)
            ratios.append((estimate_sigma(image) / rms, luma_reading(image) / rms))
        lo, hi = np.min(ratios, axis=0), np.max(ratios, axis=0)
        print(f"{name:<42}{f'{lo[0]:.2f}-{hi[0]:.2f}':>24}{f'{lo[1]:.2f}-{hi[1]:.2f}':>24}", flush=True)
    root, gen = fetch_wallpapers(WALLPAPERS), torch.Generator().manual_seed(5)
    images = photo_pyramid([load_photo(s, root) for s in TRAIN + MATE_TRAIN])
    crops = (random_crops(images, samples, CAMERA_CROP, gen) + 1) / 2
    values = [255 * luma_reading(camera_output(c[None], [draw_pipeline(gen)], gen)[0][0].permute(1, 2, 0))
              for c in crops]
    print(f"luma_reading over {samples} training-family cameras (0..255): percentiles 50/90/99/100 "
          + " / ".join(f"{v:.1f}" for v in np.percentile(values, [50, 90, 99, 100])))


def main(argv=()):
    ap = argparse.ArgumentParser(prog="python -m noisekit.bench pipelines")
    ap.add_argument("--size", type=int, default=256, help="centre crop size (0 = whole photos)")
    ap.add_argument("--model", help="the model (default: the one `noisekit denoise --sigma auto` picks)")
    ap.add_argument("--skip-cbm3d", action="store_true")
    ap.add_argument("--wallpapers", default=WALLPAPERS)
    ap.add_argument("--sheet", default="denoise_bench", help="pictures PREFIX_<variant>.jpg")
    ap.add_argument("--readings", action="store_true", help="what the noise readings make of each camera's noise")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    root = fetch_wallpapers(args.wallpapers)
    photos = [centre_crop(load_photo(s, root), args.size) for s in HELDOUT + MATE_HELDOUT]
    print(f"held-out photos: {', '.join(HELDOUT + MATE_HELDOUT)}; crop {args.size or 'none'}")
    if args.readings:
        return readings(photos)
    model = load_model(model_for("auto", args.model))
    pipelines_table(model, photos, args.skip_cbm3d, args.sheet)
    strength_picture(model, photos, f"{args.sheet}_strength.jpg")
