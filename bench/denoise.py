"""Photo denoising on held-out photos, side by side with classical denoisers.

    python -m noisekit.bench denoise [--size 256] [--model PATH] [--skip-cbm3d] [--table white|camera|all]
                                     [--sheet PREFIX]
    python -m noisekit.bench denoise --command [--megapixels 12] [--cbm3d-megapixels 0.25]

Held-out photos (training/photos.py HELDOUT, never trained on), a centre crop of --size
pixels each (0 = whole photo).

White-noise table: Gaussian noise of std 15/25/50 on the 0..255 scale, clipped and quantised
to 8 bits. Every method is given the true noise level. Prints mean PSNR (dB) / SSIM and
seconds per megapixel.

Camera-noise table: the same photos through training/degrade.py's camera pipeline at two
levels (CAMERA_LEVELS: one 8-bit PNG, one JPEG q90). Every method is blind: noisekit's
``auto``, NL-means and CBM3D at skimage's estimated sigma; and, as an oracle the user does not
have, CBM3D at the fixed sigma of a grid that scores best on the level's photos. Writes a contact
sheet per level (PREFIX_camera_png.jpg, PREFIX_camera_jpeg.jpg): a row per method, a column per photo.

CBM3D is the `bm3d` package (non-commercial licence: a benchmark-only extra, never a dependency).

--command times ``noisekit denoise`` as a user runs it: a new process on a PNG of --megapixels
(the held-out EveningGlow photo resized, noise 25/255), start-up, reading, the noise estimate and
writing included; beside it, in the same run, the same photo through denoise_photo in this process
(the inner loop) and CBM3D on a centre crop (its time per pixel does not depend on the size).
Prints wall and CPU (user + system) seconds per megapixel and PSNR, so the ratios hold on a busy machine.
"""
from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from PIL import Image, ImageDraw

from ..models.loader import load_model
from ..training.degrade import CAMERA_LEVELS, Camera, camera_noise, from_u8
from ..training.degrade import to_u8 as tensor_to_u8
from ..training.photos import HELDOUT, WALLPAPERS, fetch_wallpapers, load_photo
from ..samplers import Sampler
from ..photo.commands import model_for
from ..photo.denoise import DenoiseOptions
from ..photo.denoise import denoise_photo as denoise

SIGMAS = (15, 25, 50)
CBM3D_GRID = (4, 6, 9, 13, 19, 27, 38, 54)  # fixed sigmas (0..255) the oracle chooses from, grown by sqrt 2 upward


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


def to_u8(x: np.ndarray) -> np.ndarray:
    """[H,W,3] floats in [0, 1] -> 8-bit."""
    return (np.clip(x, 0, 1) * 255).round().astype(np.uint8)


def methods(model):
    """name -> fn(noisy uint8 [H,W,3], sigma255) -> uint8 [H,W,3]."""
    from skimage.restoration import denoise_nl_means, denoise_wavelet

    as_image = lambda a: torch.from_numpy(a.astype(np.float32) / 255)[None]
    out = {
        "noisekit one-step": lambda n, s: to_u8(denoise(model, as_image(n), DenoiseOptions(s / 255))[0].numpy()),
        "noisekit sample (8 steps)": lambda n, s: to_u8(denoise(model, as_image(n), DenoiseOptions(
            s / 255, mode="sample", steps=8, sampler=Sampler("dpmpp_2m")))[0].numpy()),
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
    return [tensor_to_u8(camera_noise(from_u8(c)[None], [camera], torch.Generator().manual_seed(k))[0])
            for k, c in enumerate(clean)]


def blind_methods(model):
    """name -> fn(noisy uint8 [H,W,3]) -> uint8 [H,W,3], each choosing its own noise level."""
    from skimage.restoration import denoise_nl_means, estimate_sigma

    as_image = lambda a: torch.from_numpy(a.astype(np.float32) / 255)[None]
    skimage_sigma = lambda n: float(estimate_sigma(n / 255.0, channel_axis=-1, average_sigmas=True))
    out = {
        "noisekit one-step, auto": lambda n: to_u8(denoise(model, as_image(n))[0].numpy()),
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


def camera_table(model, photos: list[np.ndarray], skip_cbm3d: bool = False, sheet: str = "denoise_bench"):
    """Print PSNR / SSIM per camera level for the blind methods and the oracle CBM3D; a contact sheet per level."""
    sets = {level: camera_photos(photos, camera) for level, camera in CAMERA_LEVELS.items()}
    sheets = {level: {"camera noise": noisy} for level, noisy in sets.items()}
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
        for level, noisy in sets.items():
            start = time.perf_counter()
            results = [fn(n) for n in noisy]
            seconds += time.perf_counter() - start
            cells.append("{:6.2f} dB / {:.3f}".format(*score(results)))
            sheets[level][name] = results
        print(f"{name:<32}" + "".join(f"{c:>22}" for c in cells) + f"{seconds / (megapixels * len(sets)):>9.1f}",
              flush=True)
    if not skip_cbm3d and "CBM3D, skimage sigma" in table:
        cells = []
        for level, noisy in sets.items():
            (p, q), s, sheets[level]["CBM3D, oracle fixed sigma"] = oracle_cbm3d(noisy, score)
            cells.append(f"{p:6.2f} dB / {q:.3f} @{s}")
        print(f"{'CBM3D, oracle fixed sigma':<32}" + "".join(f"{c:>22}" for c in cells), flush=True)
    for level, rows in sheets.items():
        path = f"{sheet}_camera_{'jpeg' if CAMERA_LEVELS[level].quality else 'png'}.jpg"
        contact_sheet({**rows, "original": photos}).save(path, quality=90)
        print(f"contact sheet ({level}; rows: {' | '.join(rows)} | original): {path}")


def oracle_cbm3d(noisy: list[np.ndarray], score) -> tuple[tuple[float, float], int, list[np.ndarray]]:
    """((PSNR, SSIM), sigma, results) of CBM3D at the grid sigma whose mean PSNR over the photos is best; while
    the grid's largest sigma is the best, the grid grows by a factor sqrt 2 (the oracle is never cut short)."""
    import bm3d

    run = lambda s: [(np.clip(bm3d.bm3d_rgb(n / 255.0, s / 255), 0, 1) * 255).round().astype(np.uint8) for n in noisy]
    runs = {s: run(s) for s in CBM3D_GRID}
    while (best := max(runs, key=lambda s: score(runs[s])[0])) == max(runs):
        grown = round(best * math.sqrt(2))
        runs[grown] = run(grown)
    return score(runs[best]), best, runs[best]


def contact_sheet(rows: dict[str, list[np.ndarray]]) -> Image.Image:
    """One labelled row of images per entry."""
    picture = Image.fromarray(np.concatenate([np.concatenate(r, axis=1) for r in rows.values()], axis=0))
    draw, height = ImageDraw.Draw(picture), picture.height // len(rows)
    for k, label in enumerate(rows):
        draw.rectangle([0, k * height, 6 * len(label) + 6, k * height + 14], fill=(0, 0, 0))
        draw.text((3, k * height + 2), label, fill=(255, 255, 255))
    return picture


def cpu_seconds(who=resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def timed(fn, *args):
    """(result, wall seconds, CPU seconds) of fn(*args) in this process."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = fn(*args)
    return result, time.perf_counter() - wall, cpu_seconds() - cpu


def run_command(noisy_path: str, out_path: str) -> tuple[float, float, str]:
    """``noisekit denoise`` in a new process as a user runs it: (wall s, CPU s of the process, its stdout)."""
    script = shutil.which("noisekit")
    command = [script] if script else [sys.executable, "-m", "noisekit.cli"]
    wall, cpu = time.perf_counter(), cpu_seconds(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command + ["denoise", noisy_path, out_path], capture_output=True, text=True, check=True)
    return time.perf_counter() - wall, cpu_seconds(resource.RUSAGE_CHILDREN) - cpu, done.stdout


def command_main(args):
    """The command end to end, the in-process inner loop and CBM3D, in one run."""
    import bm3d

    glow = load_photo("wallpaper:EveningGlow", fetch_wallpapers(args.wallpapers))
    h = int(round((args.megapixels * 1e6 * glow.shape[0] / glow.shape[1]) ** 0.5))
    w = int(round(args.megapixels * 1e6 / h))
    clean = np.asarray(Image.fromarray(glow).resize((w, h), Image.LANCZOS))
    noisy = add_photo_noise(clean, 25, seed=0)
    mp = h * w / 1e6
    print(f"EveningGlow resized to {w}x{h} ({mp:.2f} MP), noise 25/255; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} at the start", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        noisy_path, out_path = os.path.join(tmp, "noisy.png"), os.path.join(tmp, "denoised.png")
        Image.fromarray(noisy).save(noisy_path)
        wall, cpu, stdout = run_command(noisy_path, out_path)
        print("  " + stdout.strip().replace("\n", "\n  "), flush=True)
        rows.append(("noisekit denoise (the command)", mp, wall, cpu,
                     psnr(np.asarray(Image.open(out_path).convert("RGB")), clean)))
    model = load_model(model_for("auto", args.model))
    image = torch.from_numpy(noisy.astype(np.float32) / 255)[None]
    out, wall, cpu = timed(lambda: denoise(model, image))
    rows.append(("denoise_photo (in process)", mp, wall, cpu, psnr(to_u8(out[0].numpy()), clean)))
    crop = centre_crop_area(noisy, args.cbm3d_megapixels)
    out, wall, cpu = timed(lambda: to_u8(bm3d.bm3d_rgb(crop / 255.0, 25 / 255)))
    rows.append((f"CBM3D (bm3d package, {crop.shape[1]}x{crop.shape[0]} crop)", crop.shape[0] * crop.shape[1] / 1e6,
                 wall, cpu, psnr(out, centre_crop_area(clean, args.cbm3d_megapixels))))
    print(f"{'method':<44}{'wall s/MP':>10}{'CPU s/MP':>10}{'PSNR':>9}")
    for name, size, wall, cpu, quality in rows:
        print(f"{name:<44}{wall / size:>10.1f}{cpu / size:>10.1f}{quality:>7.2f} dB")
    (_, m0, w0, c0, _), (_, m2, w2, c2, _) = rows[0], rows[2]
    print(f"the command / CBM3D per megapixel: wall {w0 / m0 / (w2 / m2):.3f}, CPU {c0 / m0 / (c2 / m2):.3f}")


def centre_crop_area(photo: np.ndarray, megapixels: float) -> np.ndarray:
    """The centre of ``photo`` with the same aspect and about ``megapixels``."""
    h, w = photo.shape[:2]
    scale = min(1.0, (megapixels * 1e6 / (h * w)) ** 0.5)
    ch, cw = int(h * scale), int(w * scale)
    return photo[(h - ch) // 2:(h - ch) // 2 + ch, (w - cw) // 2:(w - cw) // 2 + cw]


def main(argv=()):
    ap = argparse.ArgumentParser(prog="python -m noisekit.bench denoise")
    ap.add_argument("--size", type=int, default=256, help="centre crop size (0 = whole photos)")
    ap.add_argument("--model", help="one model for every table (default: noisekit-default for white noise at the "
                                    "true sigma, noisekit-camera for blind camera noise, as `noisekit denoise` picks)")
    ap.add_argument("--skip-cbm3d", action="store_true")
    ap.add_argument("--table", choices=("white", "camera", "all"), default="all")
    ap.add_argument("--wallpapers", default=WALLPAPERS)
    ap.add_argument("--sheet", default="denoise_bench", help="camera contact sheets PREFIX_camera_{png,jpeg}.jpg")
    ap.add_argument("--command", action="store_true", help="time `noisekit denoise` as a process beside CBM3D")
    ap.add_argument("--megapixels", type=float, default=12.0, help="--command: the photo's size")
    ap.add_argument("--cbm3d-megapixels", type=float, default=0.25, help="--command: CBM3D's crop")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    if args.command:
        return command_main(args)
    photos = [centre_crop(load_photo(s, fetch_wallpapers(args.wallpapers)), args.size) for s in HELDOUT]
    if args.table == "camera":
        return camera_table(load_model(model_for("auto", args.model)), photos, args.skip_cbm3d, args.sheet)
    model = load_model(model_for("15", args.model))
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
        camera_table(load_model(model_for("auto", args.model)), photos, args.skip_cbm3d, args.sheet)
