"""Inpainting on held-out photos, side by side with classical inpainters.

    python -m noisekit.bench inpaint [--size 256] [--model PATH] [--steps 30] [--pictures PREFIX]
                                     [--methods NAME,...] [--speed] [--oracle] [--comfyui]

Eight held-out photos (EVALUATED), three masks per photo (a box, brush strokes, thin scratches), measured inside the hole only (the
rest is the input, bit for bit, for every method: checked): PSNR; the patch texture distance
(``texture_distance``: a sliced Wasserstein distance between the hole's 7x7 patches in the result
and in the original, on a 3-level Laplacian pyramid; lower is better, a few pixels' shift of the
original scores near 0, a smooth fill far from it); the mean-colour error (``colour_error``); and
the gradient-energy ratio (squared finite differences of the result over the original's: 1 = as
much fine detail, a blur is well below 1).
Peers: OpenCV Telea and Navier-Stokes, scikit-image's biharmonic inpainting, opencv-contrib's FSR
(fast) and shift-map (on Lab). Writes one JPEG per photo (PREFIX_<photo>.jpg, under 300 KB): a row
per mask kind in PICTURED, columns input, each method, the original.
--speed instead times the methods on a --side x --side (1024) held-out photo with a 15% brush
mask, the same photo with 2-pixel scratches over 3% of it, and the 4 MP EveningGlow wallpaper with
the brush strokes at its centre (the time should follow the masked area, not the photo), against
biharmonic in the same run.
--comfyui adds ComfyUI's ways in a real ComfyUI (NOISEKIT_COMFYUI, run by ``noisekit run --over`` in
NOISEKIT_COMFYUI_PYTHON): Inpaint Photo on Load Model (noisekit), the same node through CFGGuider and
the model's VAE, and KSampler at denoise 1.0 on SetLatentNoiseMask (ComfyUI's defaults, and dpmpp_2m
karras), all at cfg 1 with the loader's empty prompt; and how far the guided route is from the native one.
--oracle instead scores the original's own texture on the biharmonic fill's low frequencies, in
place and shifted a few pixels: what any texture that is not pixel-aligned with the lost one costs
in PSNR, against what it gains in texture distance.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from ..models.loader import load_model
from ..training.photos import HELDOUT, MATE_HELDOUT, WALLPAPERS, fetch_wallpapers, load_photo
from ..photo.inpaint import InpaintOptions, inpaint
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


SWD_LEVELS, SWD_PATCH, SWD_PATCHES, SWD_DIRECTIONS = 3, 7, 20000, 128


def laplacian_pyramid(image: np.ndarray, levels: int = SWD_LEVELS) -> list[np.ndarray]:
    """Band-pass levels of a float [H, W, C] image (the binomial 5-tap kernel, down and up by 2), the last
    the low-pass rest."""
    from scipy import ndimage

    kernel = np.array([1, 4, 6, 4, 1]) / 16
    smooth = lambda x: ndimage.convolve1d(ndimage.convolve1d(x, kernel, 0, mode="reflect"), kernel, 1, mode="reflect")
    bands = []
    for _ in range(levels - 1):
        down = smooth(image)[::2, ::2]
        up = np.zeros_like(image)
        up[::2, ::2] = down
        bands.append(image - 4 * smooth(up))
        image = down
    return bands + [image]


def hole_patches(image: np.ndarray, hole: np.ndarray, rng) -> np.ndarray:
    """[N, SWD_PATCH^2 C] patches of ``image`` (borders reflected) centred on at most SWD_PATCHES hole pixels."""
    r = SWD_PATCH // 2
    ys, xs = np.nonzero(hole)
    if len(ys) > SWD_PATCHES:
        pick = rng.choice(len(ys), SWD_PATCHES, replace=False)
        ys, xs = ys[pick], xs[pick]
    padded = np.pad(image, ((r, r), (r, r), (0, 0)), mode="reflect")
    d = np.arange(SWD_PATCH)
    return padded[ys[:, None, None] + d[:, None], xs[:, None, None] + d].reshape(len(ys), -1)


def texture_distance(result: np.ndarray, clean: np.ndarray, hole: np.ndarray, seed: int = 0) -> float:
    """The patch texture distance (lower is better): per level of a SWD_LEVELS Laplacian pyramid (0-255 floats,
    the hole resized by nearest neighbour), the sliced Wasserstein distance between the 7x7 RGB patches
    centred on hole pixels in ``result`` and in ``clean``, every coordinate standardised by the original's
    patches; the mean absolute difference of the sorted projections on SWD_DIRECTIONS random unit directions,
    averaged over directions and levels, x 1000 (Karras et al. 2018's SWD, restricted to the hole). Not
    pixel-aligned: the same texture shifted scores near 0, a smooth fill far from it."""
    rng = np.random.default_rng(seed)
    distances = []
    for ours, theirs in zip(laplacian_pyramid(result.astype(np.float64)), laplacian_pyramid(clean.astype(np.float64))):
        h, w = ours.shape[:2]
        level_hole = hole[np.arange(h) * hole.shape[0] // h][:, np.arange(w) * hole.shape[1] // w]
        if not level_hole.any():
            continue
        state = rng.bit_generator.state
        a = hole_patches(ours, level_hole, rng)
        rng.bit_generator.state = state  # the same hole pixels in both
        b = hole_patches(theirs, level_hole, rng)
        mean, std = b.mean(0), b.std(0) + 1e-8
        directions = rng.standard_normal((a.shape[1], SWD_DIRECTIONS))
        directions /= np.linalg.norm(directions, axis=0)
        pa, pb = np.sort(((a - mean) / std) @ directions, 0), np.sort(((b - mean) / std) @ directions, 0)
        distances.append(np.abs(pa - pb).mean())
    return 1000 * float(np.mean(distances))


def colour_error(result: np.ndarray, clean: np.ndarray, hole: np.ndarray) -> float:
    """The hole's mean-colour error: per connected region of the hole, the RGB distance (0-255) between its
    mean colour in ``result`` and in ``clean``; averaged over the regions weighted by their pixels."""
    from scipy import ndimage

    labels, n = ndimage.label(hole, np.ones((3, 3)))
    index = np.arange(1, n + 1)
    means = lambda image: np.stack([ndimage.mean(image[..., c].astype(np.float64), labels, index)
                                    for c in range(image.shape[-1])], -1)
    sizes = ndimage.sum(hole, labels, index)
    return float((np.linalg.norm(means(result) - means(clean), axis=-1) * sizes).sum() / sizes.sum())


def hole_difference(result: np.ndarray, clean: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """result - clean inside the hole, in float64 (8-bit values would wrap)."""
    return result[hole].astype(np.float64) - clean[hole].astype(np.float64)


def hole_scores(result: np.ndarray, clean: np.ndarray, hole: np.ndarray) -> tuple[float, float]:
    from skimage.metrics import structural_similarity

    p = float(10 * np.log10(255.0**2 / max(np.mean(hole_difference(result, clean, hole) ** 2), 1e-10)))
    _, full = structural_similarity(result, clean, channel_axis=-1, data_range=255, full=True)
    return p, float(full[hole].mean())


def timed(fn):
    """fn(img, hole) -> (result, wall seconds)."""
    def run(img, hole):
        start = time.perf_counter()
        result = fn(img, hole)
        return result, time.perf_counter() - start
    return run


def methods(model, steps: int):
    """name -> fn(8-bit image, hole) -> (8-bit result, wall seconds)."""
    import cv2
    from skimage.restoration import inpaint_biharmonic

    def ours(**options):
        def run(img, hole):
            image = torch.from_numpy(img.astype(np.float32) / 255)[None]
            mask = torch.from_numpy(hole.astype(np.float32))[None]
            return u8(inpaint(model, image, mask, InpaintOptions(seed=0, **options)))
        return timed(run)

    def xphoto(how, lab=False):
        def run(img, hole):
            out = np.zeros_like(img)
            src = cv2.cvtColor(img, cv2.COLOR_RGB2Lab) if lab else img
            cv2.xphoto.inpaint(src, (~hole).astype(np.uint8) * 255, out, how)  # xphoto's mask: non-zero = known
            out = cv2.cvtColor(out, cv2.COLOR_Lab2RGB) if lab else out
            return np.where(hole[..., None], out, img)  # the colour round trip may move known pixels by 1
        return run

    sampling = {"steps": steps, "strength": 0.35}
    return {
        "noisekit patch (default)": ours(),
        "noisekit anneal": ours(method="anneal"),
        "noisekit texture": ours(method="texture"),
        "noisekit replace": ours(method="replace", **sampling),
        "noisekit repaint": ours(method="repaint", jump_length=max(1, steps // 6), **sampling),
        "noisekit from noise": ours(method="replace", steps=steps, strength=1.0),
        "OpenCV Telea": timed(lambda img, hole: cv2.inpaint(img, hole.astype(np.uint8), 5, cv2.INPAINT_TELEA)),
        "OpenCV Navier-Stokes": timed(lambda img, hole: cv2.inpaint(img, hole.astype(np.uint8), 5, cv2.INPAINT_NS)),
        "skimage biharmonic": timed(lambda img, hole: (np.clip(inpaint_biharmonic(img / 255.0, hole, channel_axis=-1),
                                                               0, 1) * 255).round().astype(np.uint8)),
        "opencv-contrib FSR": timed(xphoto(cv2.xphoto.INPAINT_FSR_FAST)),
        "opencv-contrib shift-map": timed(xphoto(cv2.xphoto.INPAINT_SHIFTMAP, lab=True)),
    }


def comfyui_graph(model: str, way: str) -> dict:
    """An API prompt inpainting LoadImage's picture (its MASK: the transparent part) on Load Model (noisekit)
    in one of COMFY_WAYS, saved as WAY_00001_.png."""
    image, mask, model_in, vae, prompt = ["image", 0], ["image", 1], ["load", 0], ["load", 1], ["load", 2]
    photo = lambda **route: {"class_type": "NoisekitInpaintPhoto", "inputs": {
        "image": image, "mask": mask, "method": "patch", "steps": 40, "seed": 0, "grow": 0, "feather": 0,
        "prefill": "biharmonic", "strength": 0.57, "jump_length": 10, "jump_n_sample": 2, **route}}

    def ksampler(sampler: str, scheduler: str) -> dict:
        return {"encoded": {"class_type": "VAEEncode", "inputs": {"pixels": image, "vae": vae}},
                "masked": {"class_type": "SetLatentNoiseMask", "inputs": {"samples": ["encoded", 0], "mask": mask}},
                "sampled": {"class_type": "KSampler", "inputs": {
                    "model": model_in, "seed": 0, "steps": 20, "cfg": 1.0, "sampler_name": sampler,
                    "scheduler": scheduler, "positive": prompt, "negative": prompt, "latent_image": ["masked", 0],
                    "denoise": 1.0}},
                "out": {"class_type": "VAEDecode", "inputs": {"samples": ["sampled", 0], "vae": vae}}}

    ways = {
        "native": lambda: {"out": photo(model=model_in)},
        "guided": lambda: {"guider": {"class_type": "CFGGuider", "inputs": {
            "model": model_in, "positive": prompt, "negative": prompt, "cfg": 1.0}},
                           "out": photo(guider=["guider", 0], vae=vae)},
        "ksampler": lambda: ksampler("euler", "simple"),
        "ksampler_2m": lambda: ksampler("dpmpp_2m", "karras"),
    }
    return {"image": {"class_type": "LoadImage", "inputs": {"image": "photo.png"}},
            "load": {"class_type": "NoisekitLoadModel", "inputs": {"model_name": model}},
            **ways[way](),
            "save": {"class_type": "SaveImage", "inputs": {"images": ["out", 0], "filename_prefix": way}}}


COMFY_WAYS = {  # comfyui_graph's way -> row name
    "native": "ComfyUI: Inpaint Photo, model",
    "guided": "ComfyUI: Inpaint Photo, CFGGuider",
    "ksampler": "ComfyUI: KSampler euler simple",
    "ksampler_2m": "ComfyUI: KSampler dpmpp_2m karras",
}


def comfyui_methods(cases, model: str) -> dict:
    """COMFY_WAYS rows as methods(): fn(8-bit image, hole) -> (8-bit result, seconds), answered from one
    ``noisekit run --over`` per way over every case's picture, in the real ComfyUI at $NOISEKIT_COMFYUI (run
    by its Python, $NOISEKIT_COMFYUI_PYTHON, with this checkout as noisekit)."""
    root = os.environ.get("NOISEKIT_COMFYUI")
    if not root:
        raise SystemExit("--comfyui needs NOISEKIT_COMFYUI (a ComfyUI checkout) and NOISEKIT_COMFYUI_PYTHON (its "
                         "Python)")
    python = os.environ.get("NOISEKIT_COMFYUI_PYTHON", sys.executable)
    done = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "lib").mkdir()
        (tmp / "lib" / "noisekit").symlink_to(Path(__file__).resolve().parents[1], target_is_directory=True)
        (tmp / "photos").mkdir()
        for i, (_, _, clean, hole) in enumerate(cases):
            alpha = np.where(hole, 0, 255).astype(np.uint8)  # LoadImage's MASK is 1 - alpha
            Image.fromarray(np.dstack([damaged(clean, hole), alpha]), "RGBA").save(tmp / "photos" / f"{i:03d}.png")
        for way in COMFY_WAYS:
            graph, out = tmp / f"{way}.json", tmp / way
            graph.write_text(json.dumps(comfyui_graph(model, way)))
            subprocess.run([python, "-c", "import sys, noisekit.cli; sys.exit(noisekit.cli.main())", "run",
                            str(graph), "--comfyui", root, "--over", str(tmp / "photos"), "--output-dir", str(out),
                            "--report", str(out / "report.json")], check=True, stderr=subprocess.DEVNULL,
                           env={**os.environ, "PYTHONPATH": str(tmp / "lib")})
            items = json.loads((out / "report.json").read_text())["items"]
            done[way] = [(np.asarray(Image.open(out / item["key"] / f"{way}_00001_.png").convert("RGB")),
                          item["seconds"]) for item in sorted(items, key=lambda item: item["key"])]
    same = sum(np.array_equal(a, b) for (a, _), (b, _) in zip(done["native"], done["guided"]))
    print(f"ComfyUI: Inpaint Photo through CFGGuider saves the same 8-bit file as on the model for {same} of "
          f"{len(cases)} pictures")
    # the table asks in the cases' order, one case at a time
    return {name: lambda img, hole, answers=iter(done[way]): next(answers) for way, name in COMFY_WAYS.items()}


def u8(image: torch.Tensor) -> np.ndarray:
    """IMAGE [1, H, W, C] -> 8-bit [H, W, C]."""
    return (image[0].clamp(0, 1).numpy() * 255).round().astype(np.uint8)


KINDS = ("box", "brush", "scratch")
PICTURED = ("brush", "box")  # the mask kinds in the pictures
EVALUATED = HELDOUT + MATE_HELDOUT  # never trained on (the default model saw neither), the first four pictured


def main(argv=()):
    ap = argparse.ArgumentParser(prog="python -m noisekit.bench inpaint")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--model", default="noisekit-default")
    ap.add_argument("--steps", type=int, default=30, help="steps of the sampling methods (the default is anneal's)")
    ap.add_argument("--pictures", default="docs/inpaint", help="one JPEG per photo: PREFIX_<photo>.jpg")
    ap.add_argument("--methods", default="", help="comma-separated method names to run (default: all)")
    ap.add_argument("--speed", action="store_true", help="time 1 MP with a 15%% brush mask against biharmonic")
    ap.add_argument("--oracle", action="store_true", help="the original's own texture, in place and shifted: what "
                    "texture costs in PSNR")
    ap.add_argument("--comfyui", action="store_true", help="add ComfyUI's ways in a real ComfyUI "
                    "($NOISEKIT_COMFYUI, $NOISEKIT_COMFYUI_PYTHON)")
    ap.add_argument("--side", type=int, default=1024, help="--speed: the photo's side")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (1 on a busy machine: 2 spin-wait)")
    ap.add_argument("--wallpapers", default=WALLPAPERS)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    photos = [centre_crop(load_photo(s, fetch_wallpapers(args.wallpapers)), args.size) for s in EVALUATED]
    table = methods(model, args.steps)
    if args.methods:
        table = {k: v for k, v in table.items() if k in args.methods.split(",")}
    if args.speed:
        return speed(table, [load_photo(s, fetch_wallpapers(args.wallpapers)) for s in HELDOUT], args.side)
    if args.oracle:
        return oracle_sweep(photos)
    cases = [(k, kind, clean, hole) for k, clean in enumerate(photos) for kind, hole in masks(clean.shape[0], k).items()]
    if args.comfyui:
        table.update(comfyui_methods(cases, args.model))
    pictures = {(k, kind): [damaged(clean, hole)] for k, kind, clean, hole in cases if kind in PICTURED}
    print(f"held-out photos: {', '.join(EVALUATED)}; crop {args.size}; inside the hole, per mask kind: PSNR dB, "
          "texture distance (patch SWD x 1000, lower is better), mean-colour error (RGB 0-255), gradient-energy ratio")
    print(f"{'method':<28}" + "".join(f"{kind + ': PSNR / SWD / colour / grad':>38}" for kind in KINDS) + f"{'s/image':>9}")
    for name, fn in table.items():
        scores, seconds = {kind: [] for kind in KINDS}, []
        for k, kind, clean, hole in cases:
            result, spent = fn(damaged(clean, hole), hole)
            seconds.append(spent)
            if not np.array_equal(result[~hole], clean[~hole]):
                print(f"  ({name} changed pixels outside the hole on photo {k}, {kind})")
            scores[kind].append((hole_scores(result, clean, hole)[0], texture_distance(result, clean, hole),
                                 colour_error(result, clean, hole), texture_scores(result, clean, hole)[0]))
            if kind in PICTURED:
                pictures[k, kind].append(result)
        cells = [f"{m[0]:.2f} / {m[1]:.0f} / {m[2]:.2f} / {m[3]:.2f}" for m in (np.mean(v, 0) for v in scores.values())]
        print(f"{name:<28}" + "".join(f"{c:>38}" for c in cells) + f"{np.mean(seconds):>9.1f}", flush=True)
    for k, source in enumerate(HELDOUT):
        rows = [pictures[k, kind] + [photos[k]] for kind in PICTURED]
        path = f"{args.pictures}_{source.split(':')[1].split('.')[0]}.jpg"
        save_small(picture_grid(rows, ["input", *table, "original"]), path)
    print(f"pictures (rows: {', '.join(PICTURED)}; columns: input, {', '.join(table)}, original): {args.pictures}_*.jpg")


def damaged(clean: np.ndarray, hole: np.ndarray) -> np.ndarray:
    out = clean.copy()
    out[hole] = 0
    return out


def picture_grid(rows: list[list[np.ndarray]], labels: list[str]) -> Image.Image:
    """The rows of equal-sized images side by side, each column labelled on its first row."""
    picture = Image.fromarray(np.concatenate([np.concatenate(r, axis=1) for r in rows], axis=0))
    draw, width = ImageDraw.Draw(picture), rows[0][0].shape[1]
    for k, label in enumerate(labels):
        draw.rectangle([k * width, 0, k * width + 6 * len(label) + 6, 14], fill=(0, 0, 0))
        draw.text((k * width + 3, 2), label, fill=(255, 255, 255))
    return picture


def save_small(picture: Image.Image, path: str, most: int = 300_000):
    """A JPEG under ``most`` bytes: the highest quality (95, 90, ...) that fits."""
    for quality in range(95, 20, -5):
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=quality)
        if buffer.tell() < most:
            break
    with open(path, "wb") as f:
        f.write(buffer.getvalue())


ORACLE_BLURS, ORACLE_SHIFT = (1.0, 2.0, 4.0), 3  # texture finer than each Gaussian sigma (pixels); its shift


def oracle_sweep(photos: list[np.ndarray]):
    """What texture costs in PSNR when it is the photo's own: the biharmonic fill's frequencies below a Gaussian
    sigma plus the lost original's above it, in place (the unknowable ideal) and shifted ORACLE_SHIFT pixels (the
    same texture, not aligned: what any copied or generated texture is at best)."""
    from scipy import ndimage
    from skimage.restoration import inpaint_biharmonic

    low = lambda image, sigma: ndimage.gaussian_filter(image, (sigma, sigma, 0))
    rows = {(sigma, shift): {kind: [] for kind in PICTURED} for sigma in ORACLE_BLURS for shift in (0, ORACLE_SHIFT)}
    for k, clean in enumerate(photos):
        for kind, hole in masks(clean.shape[0], k).items():
            if kind not in PICTURED:
                continue
            smooth = inpaint_biharmonic(damaged(clean, hole) / 255.0, hole, channel_axis=-1) * 255
            truth = clean.astype(np.float64)
            for (sigma, shift), scores in rows.items():
                moved = np.roll(truth, (shift, shift), (0, 1))
                fill = np.clip(low(smooth, sigma) + moved - low(moved, sigma), 0, 255).round().astype(np.uint8)
                result = np.where(hole[..., None], fill, clean)
                scores[kind].append((hole_scores(result, clean, hole)[0], texture_distance(result, clean, hole),
                                     colour_error(result, clean, hole)))
    print("the biharmonic fill's low frequencies plus the original's texture above a Gaussian sigma, in place and "
          f"shifted {ORACLE_SHIFT} px; inside the hole: PSNR dB / texture distance / mean-colour error")
    print(f"{'sigma':<8}{'shift':<8}" + "".join(f"{kind:>24}" for kind in PICTURED))
    for (sigma, shift), scores in rows.items():
        cells = [np.mean(scores[kind], 0) for kind in PICTURED]
        print(f"{sigma:<8}{shift:<8}" + "".join(f"{f'{c[0]:.2f} / {c[1]:.0f} / {c[2]:.2f}':>24}" for c in cells),
              flush=True)


def brush_mask(h: int, w: int, pixels: int, width: int, seed: int) -> np.ndarray:
    """Random brush strokes ``width`` wide until they cover ``pixels`` pixels."""
    rng = np.random.default_rng(seed)
    mask = Image.new("L", (w, h))
    draw = ImageDraw.Draw(mask)
    while np.count_nonzero(np.asarray(mask)) < pixels:
        points = [tuple(int(v) for v in rng.integers(0, (w, h), 2)) for _ in range(3)]
        draw.line(points, fill=255, width=width)
    return np.asarray(mask) > 127


def speed(table, photos: list[np.ndarray], side: int = 1024, fraction: float = 0.15, scratched: float = 0.03):
    """Wall and CPU seconds for a side x side held-out photo with brush strokes over ``fraction`` of it, the same
    photo with 2-pixel scratches over all of it (``scratched`` of its pixels), and the largest held-out photo whole
    (4 MP) with the brush strokes at its centre (the same masked pixels); each method against biharmonic on the
    same photo in this run. Wall seconds are the method's own (the default's count its annealed fill)."""
    largest = max(photos, key=lambda p: p.size)
    hole = brush_mask(side, side, int(fraction * side * side), max(6, side // 40), seed=0)
    scratches = brush_mask(side, side, int(scratched * side * side), 2, seed=1)
    big = np.zeros(largest.shape[:2], dtype=bool)
    t, l = (largest.shape[0] - side) // 2, (largest.shape[1] - side) // 2
    big[t:t + side, l:l + side] = hole
    crop = centre_crop(largest, side)
    cases = [(f"{side}x{side} brush", crop, hole), (f"{side}x{side} scratches", crop, scratches),
             (f"{largest.shape[1]}x{largest.shape[0]} brush", largest, big)]
    print(f"held-out photos; {torch.get_num_threads()} torch threads; wall s / CPU s")
    first = {}
    for label, clean, hole in cases:
        print(f"{label} ({clean.shape[0] * clean.shape[1] / 1e6:.1f} MP), mask {hole.mean():.1%} of it:")
        times = {}
        for name, fn in sorted(table.items(), key=lambda item: item[0] != "skimage biharmonic"):  # the peer first
            cpu = time.process_time()
            result, wall = fn(damaged(clean, hole), hole)
            cpu = time.process_time() - cpu
            times[name] = wall
            first.setdefault(name, wall)
            print(f"  {name:<28}{wall:>8.1f} s {cpu:>8.1f} s CPU   PSNR in the hole "
                  f"{hole_scores(result, clean, hole)[0]:.2f} dB"
                  + (f"   {wall / times['skimage biharmonic']:.1f}x biharmonic" if "skimage biharmonic" in times else "")
                  + (f"   {wall / first[name]:.2f}x its {cases[0][0]} time" if label == cases[2][0] else ""),
                  flush=True)
