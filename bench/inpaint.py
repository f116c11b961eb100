"""Inpainting on held-out photos, side by side with classical inpainters.

    python -m noisekit.bench inpaint [--size 256] [--model PATH] [--steps 30] [--sheet PNG]

Three masks per photo (a box, brush strokes, thin scratches); PSNR / SSIM measured
inside the hole only (the rest is the input, bit for bit, for every method: checked).
Peers: OpenCV Telea and Navier-Stokes, scikit-image's biharmonic inpainting.
Writes a contact sheet of the box-mask results to --sheet for a person to look at.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from PIL import Image, ImageDraw

from ..models.loader import load_model
from ..training.photos import HELDOUT, fetch_wallpapers, load_photo
from ..samplers.inpaint import inpaint
from .denoise import centre_crop


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


def hole_scores(result: np.ndarray, clean: np.ndarray, hole: np.ndarray) -> tuple[float, float]:
    from skimage.metrics import structural_similarity

    diff = result[hole].astype(np.float64) - clean[hole].astype(np.float64)
    p = float(10 * np.log10(255.0**2 / max(np.mean(diff**2), 1e-10)))
    _, full = structural_similarity(result, clean, channel_axis=-1, data_range=255, full=True)
    return p, float(full[hole].mean())


def methods(model, steps: int):
    import cv2
    from skimage.restoration import inpaint_biharmonic

    def ours(**options):
        def run(img, hole):
            image = torch.from_numpy(img.astype(np.float32) / 255)[None]
            out = inpaint(model, image, torch.from_numpy(hole.astype(np.float32))[None], seed=0, **options)
            return (out[0].numpy() * 255).round().astype(np.uint8)
        return run

    sampling = {"steps": steps, "strength": 0.35}
    return {
        "noisekit (default)": ours(),
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
    ap.add_argument("--sheet", default="inpaint_bench.png", help="contact sheet of the box results")
    ap.add_argument("--wallpapers", default=os.path.expanduser("~/.cache/noisekit/wallpapers"))
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    model = load_model(args.model)
    photos = [centre_crop(load_photo(s, fetch_wallpapers(args.wallpapers)), args.size) for s in HELDOUT]
    table = methods(model, args.steps)
    sheet = {"input (box hole)": [], **{name: [] for name in table}, "original": []}
    print(f"held-out photos: {', '.join(HELDOUT)}; crop {args.size}; PSNR dB / SSIM inside the hole")
    print(f"{'method':<24}" + "".join(f"{m:>20}" for m in ("box", "brush", "scratch")) + f"{'s/image':>10}")
    for name, fn in table.items():
        scores, seconds, runs = {"box": [], "brush": [], "scratch": []}, 0.0, 0
        for k, clean in enumerate(photos):
            for kind, hole in masks(clean.shape[0], seed=k).items():
                damaged = clean.copy()
                damaged[hole] = 0
                start = time.perf_counter()
                result = fn(damaged, hole)
                seconds, runs = seconds + time.perf_counter() - start, runs + 1
                if not np.array_equal(result[~hole], clean[~hole]):
                    print(f"  ({name} changed pixels outside the hole on photo {k}, {kind})")
                scores[kind].append(hole_scores(result, clean, hole))
                if kind == "box":
                    sheet[name].append(result)
                    if name == next(iter(table)):
                        sheet["input (box hole)"].append(damaged)
                        sheet["original"].append(clean)
        print(f"{name:<24}" + "".join(f"{np.mean([s[0] for s in v]):>10.2f} / {np.mean([s[1] for s in v]):.3f}"
                                      for v in scores.values()) + f"{seconds / runs:>10.1f}", flush=True)
    contact_sheet(sheet).save(args.sheet)
    print(f"contact sheet of the box holes (rows: {', '.join(sheet)}): {args.sheet}")


def contact_sheet(rows: dict[str, list[np.ndarray]]) -> Image.Image:
    """One labelled row of images per entry."""
    picture = Image.fromarray(np.concatenate([np.concatenate(r, axis=1) for r in rows.values()], axis=0))
    draw, height = ImageDraw.Draw(picture), picture.height // len(rows)
    for k, label in enumerate(rows):
        draw.rectangle([0, k * height, 6 * len(label) + 6, k * height + 14], fill=(0, 0, 0))
        draw.text((3, k * height + 2), label, fill=(255, 255, 255))
    return picture
