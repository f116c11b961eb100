"""Photo denoising on held-out photos, side by side with classical denoisers.

    python -m noisekit.bench denoise [--size 256] [--model PATH] [--skip-cbm3d] [--table white|camera|all]

Held-out photos (training/photos.py HELDOUT, never trained on), a centre crop of --size
pixels each (0 = whole photo).

White-noise table: Gaussian noise of std 15/25/50 on the 0..255 scale, clipped and quantised
to 8 bits. Every method is given the true noise level. Prints mean PSNR (dB) / SSIM and
seconds per megapixel.

Camera-noise table: the same photos through training/degrade.py's camera pipeline at two
levels (CAMERA_LEVELS: one 8-bit PNG, one JPEG q90). Every method is blind: noisekit's
``auto``, NL-means and CBM3D at skimage's estimated sigma; and, as an oracle the user does not
have, CBM3D at the fixed sigma of a grid that scores best on the level's photos.

CBM3D is the `bm3d` package (non-commercial licence: a benchmark-only extra, never a dependency).
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from ..models.loader import load_model
from ..training.degrade import Camera, camera_noise, from_u8, read_noise, to_u8
from ..training.photos import HELDOUT, fetch_wallpapers, load_photo
from ..samplers import Sampler
from ..photo.denoise import denoise_photo as denoise

SIGMAS = (15, 25, 50)
GAINS = (2.1, 1.0, 1.7)  # white balance of a daylight raw (within Brooks et al.'s ranges)
CAMERA_LEVELS = {"moderate, PNG": Camera(2.5e-3, float(read_noise(torch.tensor(2.5e-3))), GAINS, None),
                 "high, JPEG q90": Camera(2e-2, float(read_noise(torch.tensor(2e-2))), GAINS, 90)}
CBM3D_GRID = (4, 6, 9, 13, 19, 27, 38)  # fixed sigmas (0..255) the oracle chooses from


def centre_crop(photo: np.ndarray, size: int) -> np.ndarray:
    if not size:
        return photo
    h, w = photo.shape[:2]
    s = min(size, h, w)
    return photo[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]


def add_photo_noise(clean: np.ndarray, sigma255: float, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, sigma255, clean.shape)
    return np.clip(clean.astype(np.float64) + noise, 0, 255).round().astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a, b, channel_axis=-1, data_range=255))


def methods(model):
    """name -> fn(noisy uint8 [H,W,3], sigma255) -> uint8 [H,W,3]."""
    from skimage.restoration import denoise_nl_means, denoise_wavelet

    as_image = lambda a: torch.from_numpy(a.astype(np.float32) / 255)[None]
    to_u8 = lambda x: (np.clip(x, 0, 1) * 255).round().astype(np.uint8)
    out = {
        "noisekit one-step": lambda n, s: to_u8(denoise(model, as_image(n), s / 255)[0].numpy()),
        "noisekit sample (8 steps)": lambda n, s: to_u8(denoise(model, as_image(n), s / 255, "sample", 8,
                                                                Sampler("dpmpp_2m"))[0].numpy()),
        "skimage NL-means": lambda n, s: to_u8(denoise_nl_means(n / 255.0, h=0.8 * s / 255, sigma=s / 255,
                                                                 fast_mode=True, patch_size=5, patch_distance=6,
                                                                 channel_axis=-1)),
        "skimage wavelet (BayesShrink)": lambda n, s: to_u8(denoise_wavelet(n / 255.0, sigma=s / 255, channel_axis=-1,
                                                                            convert2ycbcr=True, method="BayesShrink",
                                                                            mode="soft", rescale_sigma=True)),
    }
    try:
        import bm3d

        out["CBM3D (bm3d package)"] = lambda n, s: to_u8(bm3d.bm3d_rgb(n / 255.0, s / 255))
    except ImportError:
        print("(bm3d is not installed: pip install bm3d for the CBM3D column)")
    return out


def camera_photos(clean: list[np.ndarray], camera: Camera) -> list[np.ndarray]:
    """The held-out camera-noise set at one level: each photo through the camera pipeline, seeded by its index."""
    return [to_u8(camera_noise(from_u8(c)[None], [camera], torch.Generator().manual_seed(k))[0])
            for k, c in enumerate(clean)]


def blind_methods(model):
    """name -> fn(noisy uint8 [H,W,3]) -> uint8 [H,W,3], each choosing its own noise level."""
    from skimage.restoration import denoise_nl_means, estimate_sigma

    as_image = lambda a: torch.from_numpy(a.astype(np.float32) / 255)[None]
    to_u8 = lambda x: (np.clip(x, 0, 1) * 255).round().astype(np.uint8)
    skimage_sigma = lambda n: float(estimate_sigma(n / 255.0, channel_axis=-1, average_sigmas=True))
    out = {
        "noisekit one-step, auto": lambda n: to_u8(denoise(model, as_image(n), "auto")[0].numpy()),
        "NL-means, skimage sigma": lambda n: to_u8(denoise_nl_means(
            n / 255.0, h=0.8 * skimage_sigma(n), sigma=skimage_sigma(n), fast_mode=True, patch_size=5,
            patch_distance=6, channel_axis=-1)),
    }
    try:
        import bm3d

        out["CBM3D, skimage sigma"] = lambda n: to_u8(bm3d.bm3d_rgb(n / 255.0, skimage_sigma(n)))
    except ImportError:
        print("(bm3d is not installed: pip install bm3d for the CBM3D rows)")
    return out


def camera_table(model, photos: list[np.ndarray], skip_cbm3d: bool = False):
    """Print PSNR / SSIM per camera level for the blind methods and the oracle CBM3D."""
    sets = {level: camera_photos(photos, camera) for level, camera in CAMERA_LEVELS.items()}
    megapixels = sum(p.shape[0] * p.shape[1] for p in photos) / 1e6
    score = lambda results: tuple(np.mean([(psnr(r, c), ssim(r, c)) for r, c in zip(results, photos)], axis=0))
    print(f"\ncamera noise (training/degrade.py; {megapixels:.3f} MP per level), blind; PSNR dB / SSIM")
    print(f"{'method':<32}" + "".join(f"{level:>22}" for level in sets) + f"{'s/MP':>9}")
    print(f"{'noisy input':<32}" + "".join(f"{p:6.2f} dB / {q:.3f}".rjust(22)
                                           for p, q in (score(noisy) for noisy in sets.values())))
    table = blind_methods(model)
    if skip_cbm3d:
        table.pop("CBM3D, skimage sigma", None)
    for name, fn in table.items():
        cells, seconds = [], 0.0
        for noisy in sets.values():
            start = time.perf_counter()
            results = [fn(n) for n in noisy]
            seconds += time.perf_counter() - start
            cells.append("{:6.2f} dB / {:.3f}".format(*score(results)))
        print(f"{name:<32}" + "".join(f"{c:>22}" for c in cells) + f"{seconds / (megapixels * len(sets)):>9.1f}",
              flush=True)
    if not skip_cbm3d and "CBM3D, skimage sigma" in table:
        print(f"{'CBM3D, oracle fixed sigma':<32}" + "".join(f"{oracle_cbm3d(noisy, score):>22}"
                                                              for noisy in sets.values()), flush=True)


def oracle_cbm3d(noisy: list[np.ndarray], score) -> str:
    """CBM3D at the grid sigma whose mean PSNR over the photos is best (the sigma is shown)."""
    import bm3d

    best = max((score([(np.clip(bm3d.bm3d_rgb(n / 255.0, s / 255), 0, 1) * 255).round().astype(np.uint8)
                       for n in noisy]), s) for s in CBM3D_GRID)
    (p, q), s = best
    return f"{p:6.2f} dB / {q:.3f} @{s}"


def main(argv=()):
    ap = argparse.ArgumentParser(prog="python -m noisekit.bench denoise")
    ap.add_argument("--size", type=int, default=256, help="centre crop size (0 = whole photos)")
    ap.add_argument("--model", default="noisekit-default")
    ap.add_argument("--skip-cbm3d", action="store_true")
    ap.add_argument("--table", choices=("white", "camera", "all"), default="all")
    ap.add_argument("--wallpapers", default=os.path.expanduser("~/.cache/noisekit/wallpapers"))
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    model = load_model(args.model)
    photos = [centre_crop(load_photo(s, fetch_wallpapers(args.wallpapers)), args.size) for s in HELDOUT]
    if args.table == "camera":
        return camera_table(model, photos, args.skip_cbm3d)
    megapixels = sum(p.shape[0] * p.shape[1] for p in photos) / 1e6
    table = methods(model)
    if args.skip_cbm3d:
        table.pop("CBM3D (bm3d package)", None)
    print(f"held-out photos: {', '.join(HELDOUT)}; crop {args.size or 'none'}; {megapixels:.3f} MP per noise level")
    print(f"{'method':<32}" + "".join(f"{'sigma ' + str(s):>22}" for s in SIGMAS) + f"{'s/MP':>9}")
    for name, fn in table.items():
        cells, seconds = [], 0.0
        for s in SIGMAS:
            scores = []
            for k, clean in enumerate(photos):
                noisy = add_photo_noise(clean, s, seed=1000 * s + k)
                start = time.perf_counter()
                result = fn(noisy, s)
                seconds += time.perf_counter() - start
                scores.append((psnr(result, clean), ssim(result, clean)))
            p, q = np.mean(scores, axis=0)
            cells.append(f"{p:6.2f} dB / {q:.3f}")
        print(f"{name:<32}" + "".join(f"{c:>22}" for c in cells) + f"{seconds / (megapixels * len(SIGMAS)):>9.1f}",
              flush=True)
    if args.table == "all":
        camera_table(model, photos, args.skip_cbm3d)
