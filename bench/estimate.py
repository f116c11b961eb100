"""Tune the blind noise estimate (photo/estimate.py) on training photos: ``python -m noisekit.bench estimate``.

The camera model is conditioned on the noise's RMS, so the best blind estimate reads the RMS.
For random 256x256 crops of the TRAIN photos, with white noise, camera noise drawn over the
training range, and the benchmark's two camera levels, it records the views' readings
(estimate.binned_sigma, f = 1, 2, 4) and the camera model's one-step PSNR at g x the true
RMS over a grid of g. It prints each view's median reading / RMS, then the mean PSNR each estimate would give (interpolated in log g),
per kind of noise. The rows are: the weight of the 4x view, the old unweighted maximum, and the
true RMS (an oracle). No held-out photo is used. It takes about 25 minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import math

import numpy as np
import torch
from tqdm.auto import tqdm

from ..models.loader import load_model
from ..photo.estimate import binned_sigma
from ..models.space import photo_to_model_sigma
from ..training.degrade import CAMERA_LEVELS, camera_noise, draw_cameras, from_u8
from ..training.photos import TRAIN, WALLPAPERS, fetch_wallpapers, load_photo

GRID = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.15, 1.3, 1.5, 1.75, 2.0, 2.5)  # sigma / RMS
VIEWS = (1, 2, 4)
WEIGHTS_4X = (0.6, 0.7, 0.75, 0.8, 0.9)  # 1.0 is the "old" row


def eight_bit(x: torch.Tensor) -> torch.Tensor:
    """A [0, 1] image clipped and quantised to 8 bits, as a photo file stores it."""
    return (x.clamp(0, 1) * 255).round() / 255


def white_noisy(clean: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """White noise of std uniform in 3..30 / 255, clipped and quantised to 8 bits."""
    s = float(torch.empty(1).uniform_(3 / 255, 30 / 255, generator=gen))
    return eight_bit(clean + s * torch.randn(clean.shape, generator=gen))


def psnr_grid(model, noisy: torch.Tensor, clean: torch.Tensor, rms: float) -> list[float]:
    """The model's one-step PSNR (8-bit output) when told g x rms, for g in GRID."""
    out = []
    with torch.no_grad():
        for g in GRID:
            sigma = max(photo_to_model_sigma(g * rms), model.sigma_min)
            x0 = eight_bit((model(noisy * 2 - 1, torch.tensor([sigma])) + 1) / 2)
            out.append(-10 * math.log10(float((x0 - clean).square().mean())))
    return out


def rows(model, photos, crops: int, noises, seed: int = 321, desc: str = ""):
    """(kind, readings, rms, PSNR grid) for ``crops`` random crops per photo, each with every noise of
    ``noises(gen)``: a list of cameras and "white"."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for photo in tqdm(photos, desc=desc, unit="photo"):
        h, w = photo.shape[:2]
        for _ in range(crops):
            y, x = (int(torch.randint(0, n - 256, (1,), generator=gen)) for n in (h, w))
            clean = from_u8(photo[y:y + 256, x:x + 256])[None]
            for noise in noises(gen):
                noisy = white_noisy(clean, gen) if noise == "white" else camera_noise(clean, [noise], gen)
                rms = float((noisy - clean).square().mean().sqrt())
                reads = [binned_sigma(noisy.movedim(1, -1), f) for f in VIEWS]
                kind = "white" if noise == "white" else "JPEG" if noise.quality else "PNG"
                out.append((kind, reads, rms, psnr_grid(model, noisy, clean, rms)))
    return out


def report(name: str, data, estimate):
    """Mean PSNR per kind of noise when the model is told ``estimate(readings, rms)``."""
    kinds = {}
    for kind, reads, rms, psnrs in data:
        g = math.log(max(estimate(dict(zip(VIEWS, reads)), rms), 1e-6) / rms)
        kinds.setdefault(kind, []).append(float(np.interp(g, np.log(GRID), psnrs)))
    print(f"  {name:<34}" + "".join(f"{k} {np.mean(v):6.2f} dB   " for k, v in sorted(kinds.items())), flush=True)


def view_ratios(data):
    """Median reading / RMS of each view, per kind of noise."""
    kinds = sorted({kind for kind, *_ in data})
    for kind in kinds:
        ratios = np.array([[r / rms for r in reads] for k, reads, rms, _ in data if k == kind])
        print(f"  {kind}: median reading / RMS " + ", ".join(f"{f}x view {m:.2f}" for f, m in
                                                            zip(VIEWS, np.median(ratios, axis=0))))


def main(argv=()):
    ap = argparse.ArgumentParser(prog="python -m noisekit.bench estimate", description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="noisekit-camera")
    ap.add_argument("--wallpapers", default=WALLPAPERS)
    args = ap.parse_args(argv)
    model = load_model(args.model)
    root = fetch_wallpapers(args.wallpapers)
    photos = [load_photo(s, root) for s in TRAIN]
    sets = {"drawn cameras (training range) and white noise": rows(model, photos, 4, lambda g: draw_cameras(2, g)
                                                                   + ["white"], desc="drawn cameras"),
            "the benchmark's two camera levels": rows(model, photos, 2, lambda g: list(CAMERA_LEVELS.values()),
                                                      desc="benchmark levels")}
    for title, data in sets.items():
        print(f"{title}: {len(data)} crops")
        view_ratios(data)
        print(f"  mean one-step PSNR of {args.model} told the estimate:")
        report("old: max(r1, r2, r4)", data, lambda r, rms: max(r[1], r[2], r[4]))
        for w in WEIGHTS_4X:
            report(f"max(r1, r2, {w} r4)", data, lambda r, rms, w=w: max(r[1], r[2], w * r[4]))
        report("the true RMS (oracle)", data, lambda r, rms: rms)


if __name__ == "__main__":
    main()
