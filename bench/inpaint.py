"""Inpainting on held-out photos, side by side with classical inpainters.

    python -m noisekit.bench inpaint [--size 256] [--model PATH] [--steps 30] [--sheet PREFIX]
                                     [--methods NAME,...] [--speed] [--grain]

Three masks per photo (a box, brush strokes, thin scratches); PSNR / SSIM measured
inside the hole only (the rest is the input, bit for bit, for every method: checked).
Texture, inside the hole: the gradient-energy ratio (sum of squared finite differences of the
result over that of the original: 1 = as much fine detail, a blur is well below 1) and a
no-reference sharpness (variance of the Laplacian in the hole over that in a 16-pixel ring of
known pixels around it: 1 = as sharp as its surroundings, no original needed).
Peers: OpenCV Telea and Navier-Stokes, scikit-image's biharmonic inpainting.
Writes one contact sheet per mask kind (PREFIX_box.png, ...) with a row per method.
--speed instead times the methods on a --side x --side (1024) held-out photo with a 15% brush
mask, and on the 4 MP EveningGlow wallpaper with the same strokes at its centre (the time should
follow the masked area, not the photo), against biharmonic in the same run.
--grain instead adds k x the texture method's grain (photo/inpaint.py match_grain) to the default's
fill, for k in GRAIN: the PSNR each gradient ratio costs.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from PIL import Image, ImageDraw

from ..models.loader import load_model
from ..training.photos import HELDOUT, WALLPAPERS, fetch_wallpapers, load_photo
from ..photo.inpaint import InpaintOptions, inpaint, match_grain
from .denoise import centre_crop, contact_sheet


def masks(size: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    box = Image.new("L", (size, size))
    s = size // 5
    x, y = rng.integers(s, size - 2 * s, 2)
    ImageDraw.Draw(box).rectangle([x, y, x + s, y + s], fill=255)
    out["box"] = box
    for name, width, strokes in (("brush", max(6, size // 24), 3), ("scratch", 2, 6)):
        m = Image.new("L", (size, size))
        draw = ImageDraw.Draw(m)
        for _ in range(strokes):
            points = [tuple(int(v) for v in rng.integers(0, size, 2)) for _ in range(4)]
            draw.line(points, fill=255, width=width)
        out[name] = m
    return {k: np.asarray(v) > 127 for k, v in out.items()}


def gradient_energy(image: np.ndarray, hole: np.ndarray) -> float:
    """Sum over the hole of squared forward differences (both directions, all channels)."""
    x = image.astype(np.float64)
    dy, dx = np.zeros_like(x), np.zeros_like(x)
    dy[:-1], dx[:, :-1] = np.diff(x, axis=0), np.diff(x, axis=1)
    return float((dy**2 + dx**2)[hole].sum())


def sharpness(image: np.ndarray, hole: np.ndarray, ring: int = 16) -> float:
    """Variance of the grey Laplacian in the hole over that in a ``ring`` of known pixels around it."""
    from scipy import ndimage

    laplacian = ndimage.laplace(image.astype(np.float64).mean(-1))
    around = ndimage.binary_dilation(hole, iterations=ring) & ~ndimage.binary_dilation(hole, iterations=1)
    return float(laplacian[hole].var() / max(laplacian[around].var(), 1e-10))


def texture_scores(result: np.ndarray, clean: np.ndarray, hole: np.ndarray) -> tuple[float, float]:
    return gradient_energy(result, hole) / max(gradient_energy(clean, hole), 1e-10), sharpness(result, hole)


def hole_difference(result: np.ndarray, clean: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """result - clean inside the hole, in float64 (8-bit values would wrap)."""
    return result[hole].astype(np.float64) - clean[hole].astype(np.float64)


def hole_scores(result: np.ndarray, clean: np.ndarray, hole: np.ndarray) -> tuple[float, float]:
    from skimage.metrics import structural_similarity

    p = float(10 * np.log10(255.0**2 / max(np.mean(hole_difference(result, clean, hole) ** 2), 1e-10)))
    _, full = structural_similarity(result, clean, channel_axis=-1, data_range=255, full=True)
    return p, float(full[hole].mean())


def methods(model, steps: int):
    import cv2
    from skimage.restoration import inpaint_biharmonic

    def ours(**options):
        def run(img, hole):
            image = torch.from_numpy(img.astype(np.float32) / 255)[None]
            out = inpaint(model, image, torch.from_numpy(hole.astype(np.float32))[None], InpaintOptions(seed=0, **options))
            return (out[0].numpy() * 255).round().astype(np.uint8)
        return run

    sampling = {"steps": steps, "strength": 0.35}
    return {
        "noisekit (default)": ours(),
        "noisekit texture": ours(method="texture"),
        "noisekit replace": ours(method="replace", **sampling),
        "noisekit repaint": ours(method="repaint", jump_length=max(1, steps // 6), **sampling),
        "noisekit from noise": ours(method="replace", steps=steps, strength=1.0),
        "OpenCV Telea": lambda img, hole: cv2.inpaint(img, hole.astype(np.uint8), 5, cv2.INPAINT_TELEA),
        "OpenCV Navier-Stokes": lambda img, hole: cv2.inpaint(img, hole.astype(np.uint8), 5, cv2.INPAINT_NS),
        "skimage biharmonic": lambda img, hole: (np.clip(inpaint_biharmonic(img / 255.0, hole, channel_axis=-1), 0, 1)
                                                 * 255).round().astype(np.uint8),
    }


def main(argv=()):
    ap = argparse.ArgumentParser(prog="python -m noisekit.bench inpaint")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--model", default="noisekit-default")
    ap.add_argument("--steps", type=int, default=30, help="steps of the sampling methods (the default is anneal's)")
    ap.add_argument("--sheet", default="inpaint_bench", help="contact sheets PREFIX_box.png, PREFIX_brush.png, ...")
    ap.add_argument("--methods", default="", help="comma-separated method names to run (default: all)")
    ap.add_argument("--speed", action="store_true", help="time 1 MP with a 15%% brush mask against biharmonic")
    ap.add_argument("--grain", action="store_true", help="the default's fill plus k x the texture grain, k in GRAIN")
    ap.add_argument("--side", type=int, default=1024, help="--speed: the photo's side")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (1 on a busy machine: 2 spin-wait)")
    ap.add_argument("--wallpapers", default=WALLPAPERS)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    photos = [centre_crop(load_photo(s, fetch_wallpapers(args.wallpapers)), args.size) for s in HELDOUT]
    table = methods(model, args.steps)
    if args.methods:
        table = {k: v for k, v in table.items() if k in args.methods.split(",")}
    if args.speed:
        return speed(table, [load_photo(s, fetch_wallpapers(args.wallpapers)) for s in HELDOUT], args.side)
    if args.grain:
        return grain_sweep(model, photos)
    kinds = ("box", "brush", "scratch")
    sheets = {kind: {"input": [], **{name: [] for name in table}, "original": []} for kind in kinds}
    print(f"held-out photos: {', '.join(HELDOUT)}; crop {args.size}; inside the hole: PSNR dB / SSIM, "
          "and texture: gradient-energy ratio / sharpness vs the ring around")
    print(f"{'method':<24}" + "".join(f"{m:>16}{m + ' texture':>16}" for m in kinds) + f"{'s/image':>10}")
    for name, fn in table.items():
        scores, seconds, runs = {kind: [] for kind in kinds}, 0.0, 0
        for k, clean in enumerate(photos):
            for kind, hole in masks(clean.shape[0], seed=k).items():
                damaged = clean.copy()
                damaged[hole] = 0
                start = time.perf_counter()
                result = fn(damaged, hole)
                seconds, runs = seconds + time.perf_counter() - start, runs + 1
                if not np.array_equal(result[~hole], clean[~hole]):
                    print(f"  ({name} changed pixels outside the hole on photo {k}, {kind})")
                scores[kind].append(hole_scores(result, clean, hole) + texture_scores(result, clean, hole))
                sheets[kind][name].append(result)
                if name == next(iter(table)):
                    sheets[kind]["input"].append(damaged)
                    sheets[kind]["original"].append(clean)
        cells = [(f"{m[0]:.2f} / {m[1]:.3f}", f"{m[2]:.2f} / {m[3]:.2f}") for m in
                 (np.mean(v, axis=0) for v in scores.values())]
        print(f"{name:<24}" + "".join(f"{a:>16}{b:>16}" for a, b in cells) + f"{seconds / runs:>10.1f}", flush=True)
    ring = {kind: np.mean([sharpness(c, masks(c.shape[0], seed=k)[kind]) for k, c in enumerate(photos)])
            for kind in kinds}
    print(f"{'(the original)':<24}" + "".join(f"{'':>16}{f'1.00 / {v:.2f}':>16}" for v in ring.values()))
    for kind, rows in sheets.items():
        contact_sheet(rows).save(f"{args.sheet}_{kind}.png")
    print(f"contact sheets (rows: {', '.join(sheets['box'])}): {args.sheet}_{{{','.join(kinds)}}}.png")


GRAIN = (0.0, 0.25, 0.4, 0.5, 0.6, 0.75, 1.0)
TARGET_RATIO, TARGET_DB = 0.8, 0.3  # the texture target: gradient ratio in the hole, PSNR below the default
WHITE_GAIN, MOST_GAIN = 4.0, 8.0  # E|grad e|^2 / E|e|^2 of white noise (2 per direction), and its maximum


def grain_sweep(model, photos: list[np.ndarray]):
    """Per mask kind, PSNR / SSIM and texture of the default's fill plus k x the texture method's grain
    (one white-noise draw, seed 2, for every k)."""
    kinds = ("box", "brush", "scratch")
    scores = {(kind, k): [] for kind in kinds for k in GRAIN}
    needs = {kind: np.zeros(2) for kind in kinds}  # pooled (gradient energy to add, squared error allowed)
    for i, clean in enumerate(photos):
        for kind, hole in masks(clean.shape[0], seed=i).items():
            damaged = clean.copy()
            damaged[hole] = 0
            mask = torch.from_numpy(hole.astype(np.float32))[None]
            fill = inpaint(model, torch.from_numpy(damaged.astype(np.float32) / 255)[None], mask, InpaintOptions(seed=0))
            x, m = fill.movedim(-1, 1).double(), mask[None].double()
            z = torch.randn(x.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
            needs[kind] += texture_need((fill[0].numpy() * 255).round().astype(np.uint8), clean, hole)
            for k in GRAIN:
                out = (match_grain(x, m, z, k).clamp(0, 1)[0].movedim(0, -1).numpy() * 255).round().astype(np.uint8)
                scores[kind, k].append(hole_scores(out, clean, hole) + texture_scores(out, clean, hole))
    print("the default's fill plus k x the grain of `texture`; inside the hole: PSNR dB / SSIM, gradient-energy "
          "ratio / sharpness")
    print(f"{'k':<6}" + "".join(f"{m:>16}{m + ' texture':>16}" for m in kinds))
    for k in GRAIN:
        cells = [np.mean(scores[kind, k], axis=0) for kind in kinds]
        print(f"{k:<6}" + "".join(f"{f'{c[0]:.2f} / {c[1]:.3f}':>16}{f'{c[2]:.2f} / {c[3]:.2f}':>16}" for c in cells),
              flush=True)
    print(f"gradient energy per unit of squared error that detail added to the default's fill, uncorrelated with the "
          f"lost detail, needs to reach a gradient ratio of {TARGET_RATIO} within {TARGET_DB} dB (pooled): "
          + ", ".join(f"{kind} {needs[kind][0] / needs[kind][1]:.1f}" for kind in kinds)
          + f". White noise gives {WHITE_GAIN:.0f}; the most any pattern gives is {MOST_GAIN:.0f}, a checkerboard")


def texture_need(fill: np.ndarray, clean: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """(gradient energy missing for TARGET_RATIO, squared error TARGET_DB allows on top of the fill's) in the hole.
    Detail e uncorrelated with the fill's error r adds |e|^2 to the squared error |r|^2 and about |grad e|^2 to
    the gradient energy, so it meets the target only if |grad e|^2 / |e|^2 reaches their ratio."""
    missing = TARGET_RATIO * gradient_energy(clean, hole) - gradient_energy(fill, hole)
    error = float((hole_difference(fill, clean, hole) ** 2).sum())
    return np.array([missing, (10 ** (TARGET_DB / 10) - 1) * error])


def brush_mask(h: int, w: int, pixels: int, width: int, seed: int) -> np.ndarray:
    """Random brush strokes ``width`` wide until they cover ``pixels`` pixels."""
    rng = np.random.default_rng(seed)
    mask = Image.new("L", (w, h))
    draw = ImageDraw.Draw(mask)
    while np.count_nonzero(np.asarray(mask)) < pixels:
        points = [tuple(int(v) for v in rng.integers(0, (w, h), 2)) for _ in range(3)]
        draw.line(points, fill=255, width=width)
    return np.asarray(mask) > 127


def speed(table, photos: list[np.ndarray], side: int = 1024, fraction: float = 0.15):
    """Wall and CPU seconds for a side x side held-out photo with brush strokes over ``fraction`` of it, and for
    the largest held-out photo whole (4 MP) with the same strokes at its centre (the same masked pixels);
    each method against biharmonic on the same photo in this run."""
    largest = max(photos, key=lambda p: p.size)
    hole = brush_mask(side, side, int(fraction * side * side), max(6, side // 40), seed=0)
    big = np.zeros(largest.shape[:2], dtype=bool)
    t, l = (largest.shape[0] - side) // 2, (largest.shape[1] - side) // 2
    big[t:t + side, l:l + side] = hole
    cases = [(f"{side}x{side}", centre_crop(largest, side), hole), (f"{largest.shape[1]}x{largest.shape[0]}", largest, big)]
    print(f"held-out photos with brush strokes over {hole.sum() / 1e6:.3f} MP; {torch.get_num_threads()} torch "
          "threads; wall s / CPU s")
    first = {}
    for label, clean, hole in cases:
        damaged = clean.copy()
        damaged[hole] = 0
        print(f"{label} ({clean.shape[0] * clean.shape[1] / 1e6:.1f} MP), mask {hole.mean():.1%} of it:")
        times = {}
        for name, fn in sorted(table.items(), key=lambda item: item[0] != "skimage biharmonic"):  # the peer first
            wall, cpu = time.perf_counter(), time.process_time()
            result = fn(damaged, hole)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            times[name] = wall
            first.setdefault(name, wall)
            print(f"  {name:<24}{wall:>8.1f} s {cpu:>8.1f} s CPU   PSNR in the hole "
                  f"{hole_scores(result, clean, hole)[0]:.2f} dB"
                  + (f"   {wall / times['skimage biharmonic']:.1f}x biharmonic" if "skimage biharmonic" in times else "")
                  + (f"   {wall / first[name]:.2f}x its {cases[0][0]} time" if label != cases[0][0] else ""),
                  flush=True)
