"""A family of camera pipelines: the same sensor noise developed the ways different cameras develop it.

training/degrade.py develops raw noise one way (bilinear demosaic, sRGB curve, JPEG). Cameras and
phones differ in every stage after the sensor, and each stage reshapes the noise: an edge-aware
demosaicer correlates it along edges, sharpening lifts it to high frequencies, a colour matrix mixes
it between channels, a tone curve stretches it in the shadows, chroma subsampling smears it into
2x2 blocks. A ``Pipeline`` draws every stage:

    scene (linear sRGB) -> camera RGB (inverse colour matrix) -> undo white balance -> RGGB mosaic
    -> shot + read noise, row noise -> demosaic -> white balance -> colour matrix -> exposure -> tone curve
    -> chroma noise reduction -> luma sharpening -> downscale -> 8 bits -> JPEG (4:2:0 or 4:4:4)

The clean target is the same scene given the pipeline's look without the sensor: exposure, tone curve,
sharpening and downscale on the full-colour scene (no mosaic, no noise, no noise reduction, no JPEG).
A denoiser trained to it removes the noise and keeps the camera's look.

HELD_OUT names stage variants that training never draws; the benchmark's held-out variants use
them, so its numbers say how the model does on a camera built unlike any it saw.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .degrade import (BLUE_GAIN, GAINS, RED_GAIN, SHOT_RANGE, bayer_masks, demosaic, from_u8, linear_to_srgb, mosaic,
                      raw_noise, read_noise, srgb_to_linear, to_u8)

DEMOSAICS = ("bilinear", "malvar", "hamilton_adams", "ahd", "median_hue", "edge_aware", "vng")
TONES = ("srgb", "gamma", "filmic", "log", "reinhard")
SHARPENS = ("none", "unsharp", "cross", "laplacian")
HELD_OUT = {"demosaic": ("vng",), "tone": ("reinhard",), "sharpen": ("laplacian",)}
JPEG_QUALITY = (50, 95)
EXPOSURE = (0.6, 2.0)  # log-uniform


@dataclass(frozen=True)
class Pipeline:
    """One camera: its noise (raw variance shot * x + read; row noise as a fraction of the read std) and
    every development stage after the sensor."""
    shot: float
    read: float
    gains: tuple[float, float, float] = GAINS
    matrix: float = 0.0  # colour-matrix strength: off-diagonal camera -> sRGB mixing (0 = identity)
    demosaic: str = "bilinear"
    tone: str = "srgb"
    sharpen: str = "none"
    amount: float = 0.0  # sharpening amount
    radius: float = 1.0  # unsharp mask's Gaussian std (pixels)
    chroma_nr: float = 0.0  # Gaussian std (pixels) of the chroma blur; 0 = none
    rows: float = 0.0
    exposure: float = 1.0  # linear gain before the tone curve (auto-exposure and digital gain differ by maker)
    scale: float = 1.0  # downscale factor after development (1 = none, 2 = half size)
    quality: int | None = None
    subsampling: str = "4:2:0"


def colour_matrix(strength: float) -> torch.Tensor:
    """A camera -> sRGB matrix: rows sum to 1 (white stays white), negative off-diagonals of ``strength``
    (cameras' matrices have them, as their filters' spectra overlap)."""
    off = torch.full((3, 3), -strength / 2, dtype=torch.float64)
    off.fill_diagonal_(0)
    return (off + torch.diag(1 - off.sum(1))).float()


def apply_matrix(rgb: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,bjhw->bihw", matrix.to(rgb), rgb)


# Malvar, He & Cutler (2004), "High-quality linear interpolation for demosaicing of Bayer-patterned
# color images": gradient-corrected 5x5 filters, in units of 1/8.
MHC_G_AT_RB = [[0, 0, -1, 0, 0], [0, 0, 2, 0, 0], [-1, 2, 4, 2, -1], [0, 0, 2, 0, 0], [0, 0, -1, 0, 0]]
MHC_ROW = [[0, 0, .5, 0, 0], [0, -1, 0, -1, 0], [-1, 4, 5, 4, -1], [0, -1, 0, -1, 0], [0, 0, .5, 0, 0]]
MHC_OPPOSITE = [[0, 0, -1.5, 0, 0], [0, 2, 0, 2, 0], [-1.5, 0, 6, 0, -1.5], [0, 2, 0, 2, 0], [0, 0, -1.5, 0, 0]]


def malvar(raw: torch.Tensor) -> torch.Tensor:
    """Malvar-He-Cutler demosaic of [B, 1, H, W] RGGB (reflect-padded borders)."""
    h, w = raw.shape[-2:]
    kernels = torch.tensor([MHC_G_AT_RB, MHC_ROW, np.transpose(MHC_ROW).tolist(), MHC_OPPOSITE]) / 8
    est = F.conv2d(F.pad(raw, (2, 2, 2, 2), mode="reflect"), kernels[:, None].to(raw))
    g_at_rb, along_row, along_col, opposite = est.unbind(1)
    y, x = torch.meshgrid(torch.arange(h) % 2, torch.arange(w) % 2, indexing="ij")
    red, blue = (y == 0) & (x == 0), (y == 1) & (x == 1)
    green_in_red_row, green_in_blue_row = (y == 0) & (x == 1), (y == 1) & (x == 0)
    measured = raw[:, 0]
    green = torch.where(red | blue, g_at_rb, measured)
    red_ch = torch.where(red, measured, torch.where(green_in_red_row, along_row,
                                                    torch.where(green_in_blue_row, along_col, opposite)))
    blue_ch = torch.where(blue, measured, torch.where(green_in_blue_row, along_row,
                                                      torch.where(green_in_red_row, along_col, opposite)))
    return torch.stack([red_ch, green, blue_ch], 1)


def directional_greens(raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Hamilton & Adams' (1997) green estimates at every site of [B, 1, H, W] RGGB, along rows and along
    columns (first difference of green plus second difference of the own colour), and those two gradients."""
    p = F.pad(raw, (2, 2, 2, 2), mode="reflect")[:, 0]
    c = p[:, 2:-2, 2:-2]
    left, right, up, down = p[:, 2:-2, 1:-3], p[:, 2:-2, 3:-1], p[:, 1:-3, 2:-2], p[:, 3:-1, 2:-2]
    left2, right2, up2, down2 = p[:, 2:-2, :-4], p[:, 2:-2, 4:], p[:, :-4, 2:-2], p[:, 4:, 2:-2]
    grad_h = (left - right).abs() + (2 * c - left2 - right2).abs()
    grad_v = (up - down).abs() + (2 * c - up2 - down2).abs()
    est_h = (left + right) / 2 + (2 * c - left2 - right2) / 4
    est_v = (up + down) / 2 + (2 * c - up2 - down2) / 4
    return est_h, est_v, grad_h, grad_v


def colour_from_green(raw: torch.Tensor, green: torch.Tensor) -> torch.Tensor:
    """Full RGB from a full green [B, 1, H, W]: red and blue as bilinearly interpolated colour differences."""
    masks = bayer_masks(*raw.shape[-2:]).to(raw)
    green = torch.where(masks[1] > 0, raw, green)
    diff = (raw - green) * masks[[0, 2]]  # R - G and B - G where measured
    kernel = torch.tensor([[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]]).to(raw).expand(2, 1, 3, 3)
    weights = F.conv2d(F.pad(masks[[0, 2]][None].expand(raw.shape[0], -1, -1, -1), (1, 1, 1, 1), mode="reflect"),
                       kernel, groups=2)
    diff = F.conv2d(F.pad(diff, (1, 1, 1, 1), mode="reflect"), kernel, groups=2) / weights
    return torch.cat([green + diff[:, :1], green, green + diff[:, 1:]], 1)


def hamilton_adams(raw: torch.Tensor) -> torch.Tensor:
    """Edge-directed demosaic (Hamilton & Adams 1997): green along the direction of the smaller gradient,
    then red and blue as colour differences to it."""
    est_h, est_v, grad_h, grad_v = directional_greens(raw)
    directed = torch.where(grad_h < grad_v, est_h, torch.where(grad_v < grad_h, est_v, (est_h + est_v) / 2))
    return colour_from_green(raw, directed[:, None])


def neighbour_differences(x: torch.Tensor) -> torch.Tensor:
    """|x - neighbour| for the four neighbours of every pixel of [B, C, H, W], summed over channels:
    [B, 4, H, W] (left, right, up, down; replicate-padded)."""
    p = F.pad(x, (1, 1, 1, 1), mode="replicate")
    c = p[..., 1:-1, 1:-1]
    shifted = (p[..., 1:-1, :-2], p[..., 1:-1, 2:], p[..., :-2, 1:-1], p[..., 2:, 1:-1])
    return torch.stack([(c - s).abs().sum(1) for s in shifted], 1)


def ahd(raw: torch.Tensor) -> torch.Tensor:
    """Homogeneity-directed demosaic (after Hirakawa & Parks 2005): a full picture interpolated along rows
    and one along columns; each pixel takes the one whose 3x3 neighbourhood is more homogeneous (neighbours
    within an adaptive luma and chroma distance, measured in YCbCr), the mean of both on a tie."""
    est_h, est_v, _, _ = directional_greens(raw)
    candidates = [colour_from_green(raw, est[:, None]) for est in (est_h, est_v)]
    ycc = [to_ycc(c) for c in candidates]
    luma = [neighbour_differences(y[:, :1]) for y in ycc]
    chroma = [neighbour_differences(y[:, 1:]) for y in ycc]
    # the adaptive thresholds: the smaller of each direction's largest difference along its own axis
    eps_luma = torch.minimum(luma[0][:, :2].amax(1), luma[1][:, 2:].amax(1))[:, None]
    eps_chroma = torch.minimum(chroma[0][:, :2].amax(1), chroma[1][:, 2:].amax(1))[:, None]
    box = lambda t: F.avg_pool2d(F.pad(t, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    homogeneity = [box(((lu <= eps_luma) & (ch <= eps_chroma)).sum(1, keepdim=True).to(raw))
                   for lu, ch in zip(luma, chroma)]
    rows, cols = candidates
    return torch.where(homogeneity[0] > homogeneity[1], rows,
                       torch.where(homogeneity[1] > homogeneity[0], cols, (rows + cols) / 2))


def median3(x: torch.Tensor) -> torch.Tensor:
    """3x3 median of every channel of [B, C, H, W] (reflect-padded)."""
    patches = F.pad(x, (1, 1, 1, 1), mode="reflect").unfold(2, 3, 1).unfold(3, 3, 1)
    return patches.reshape(*x.shape, 9).median(-1).values


def median_hue(raw: torch.Tensor) -> torch.Tensor:
    """Bilinear demosaic with the colour differences R - G and B - G median-filtered (Freeman 1988, dcraw's
    -m passes): the interpolated red and blue become green plus the 3x3 median difference; measured samples
    stay. It trades colour fringes for blotchy chroma noise."""
    rgb = demosaic(raw)
    masks = bayer_masks(*raw.shape[-2:]).to(raw)
    green = rgb[:, 1:2]
    smoothed = green + median3(rgb[:, [0, 2]] - green)
    return torch.cat([torch.where(masks[0] > 0, rgb[:, :1], smoothed[:, :1]), green,
                      torch.where(masks[2] > 0, rgb[:, 2:], smoothed[:, 1:])], 1)


def opencv_demosaic(raw: torch.Tensor, kind: str) -> torch.Tensor:
    """OpenCV's edge-aware (16-bit) or VNG (8-bit only: run on a square-root encoding so the shadows keep
    their levels) demosaic of [B, 1, H, W] RGGB. OpenCV calls R at (0, 0) "BayerBG"."""
    import cv2

    out = []
    for r in raw[:, 0].clamp(0, 1).numpy():
        if kind == "vng":
            u8 = np.round(np.sqrt(r) * 255).astype(np.uint8)
            rgb = (cv2.cvtColor(u8, cv2.COLOR_BayerBG2RGB_VNG).astype(np.float32) / 255) ** 2
        else:
            u16 = np.round(r * 65535).astype(np.uint16)
            rgb = cv2.cvtColor(u16, cv2.COLOR_BayerBG2RGB_EA).astype(np.float32) / 65535
        out.append(torch.from_numpy(rgb).permute(2, 0, 1))
    return torch.stack(out).to(raw)


def demosaic_by(raw: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "bilinear":
        return demosaic(raw)
    if kind == "malvar":
        return malvar(raw)
    if kind == "hamilton_adams":
        return hamilton_adams(raw)
    if kind == "ahd":
        return ahd(raw)
    if kind == "median_hue":
        return median_hue(raw)
    if kind in ("edge_aware", "vng"):
        return opencv_demosaic(raw, kind)
    raise ValueError(f"demosaic: unknown kind {kind!r}; one of {DEMOSAICS}")


def tone_curve(linear: torch.Tensor, kind: str) -> torch.Tensor:
    """Linear [0, 1] -> display values: the sRGB curve; a pure 1/2.2 power; a filmic S (Narkowicz's fit of
    ACES, exposure 1.6, then sRGB); a log profile, log(1 + 32 x) / log(33), as video modes flatten
    contrast; or Reinhard's x / (1 + x) at exposure 2, then sRGB."""
    x = linear.clamp(0, 1)
    if kind == "srgb":
        return linear_to_srgb(x)
    if kind == "gamma":
        return x ** (1 / 2.2)
    if kind == "filmic":
        e = 1.6 * x
        return linear_to_srgb((e * (2.51 * e + 0.03) / (e * (2.43 * e + 0.59) + 0.14)).clamp(0, 1))
    if kind == "log":
        return torch.log1p(32 * x) / math.log(33)
    if kind == "reinhard":
        e = 2 * x
        return linear_to_srgb(e / (1 + e) * 1.5)
    raise ValueError(f"tone curve: unknown kind {kind!r}; one of {TONES}")


def gaussian_blur(x: torch.Tensor, std: float) -> torch.Tensor:
    """Separable Gaussian blur of [B, C, H, W] (reflect-padded)."""
    half = max(1, math.ceil(3 * std))
    t = torch.arange(-half, half + 1, dtype=x.dtype)
    k = torch.exp(-t**2 / (2 * std**2))
    k = k / k.sum()
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (half, half, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, half, half), mode="reflect"), k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


YCC = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])  # JPEG's


def to_ycc(rgb: torch.Tensor) -> torch.Tensor:
    return apply_matrix(rgb, YCC)


def from_ycc(ycc: torch.Tensor) -> torch.Tensor:
    return apply_matrix(ycc, torch.linalg.inv(YCC))


def chroma_nr(rgb: torch.Tensor, std: float) -> torch.Tensor:
    """In-camera chroma noise reduction: blur the two chroma channels, keep luma."""
    if std <= 0:
        return rgb
    ycc = to_ycc(rgb)
    return from_ycc(torch.cat([ycc[:, :1], gaussian_blur(ycc[:, 1:], std)], 1))


LAPLACIANS = {"cross": torch.tensor([[0., -1, 0], [-1, 4, -1], [0, -1, 0]]) / 4,
              "laplacian": torch.tensor([[-1., -1, -1], [-1, 8, -1], [-1, -1, -1]]) / 8}


def sharpen(rgb: torch.Tensor, kind: str, amount: float, radius: float) -> torch.Tensor:
    """Luma sharpening: unsharp mask (luma + amount * (luma - Gaussian(luma, radius))) or a 3x3 Laplacian
    high-boost (luma + amount * Laplacian(luma)), over the four edge neighbours ("cross") or all eight, as
    phones do."""
    if kind == "none" or amount <= 0:
        return rgb
    ycc = to_ycc(rgb)
    luma = ycc[:, :1]
    if kind == "unsharp":
        detail = luma - gaussian_blur(luma, radius)
    elif kind in LAPLACIANS:
        detail = F.conv2d(F.pad(luma, (1, 1, 1, 1), mode="reflect"), LAPLACIANS[kind].view(1, 1, 3, 3).to(luma))
    else:
        raise ValueError(f"sharpen: unknown kind {kind!r}; one of {SHARPENS}")
    return from_ycc(torch.cat([luma + amount * detail, ycc[:, 1:]], 1))


def downscale(x: torch.Tensor, scale: float) -> torch.Tensor:
    if scale == 1:
        return x
    size = [max(1, round(s / scale)) for s in x.shape[-2:]]
    return F.interpolate(x, size=size, mode="area")


def look(rgb: torch.Tensor, p: Pipeline) -> torch.Tensor:
    """Display values -> the pipeline's look: sharpening, then downscale."""
    return downscale(sharpen(rgb, p.sharpen, p.amount, p.radius), p.scale)


def jpeg_roundtrip(u8: np.ndarray, quality: int, subsampling: str) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(u8).save(buffer, format="JPEG", quality=int(quality), subsampling=subsampling)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def row_noise(shape: tuple, read_std: torch.Tensor, fraction: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A random offset per sensor row, of std ``fraction`` x the read noise's std."""
    b, _, h, _ = shape
    return (fraction * read_std) * torch.randn((b, 1, h, 1), generator=gen)


def develop(scene: torch.Tensor, pipelines: list[Pipeline], gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Linear scenes [B, 3, H, W] -> (noisy camera output, clean target), both 8-bit values in [0, 1],
    each item through its own pipeline (the output is 1/scale the size)."""
    noisy, clean = [], []
    for item, p in zip(scene, pipelines):
        x = item[None]
        gains = torch.tensor(p.gains, dtype=x.dtype)[None, :, None, None]
        matrix = colour_matrix(p.matrix)
        raw = mosaic(apply_matrix(x, torch.linalg.inv(matrix)).clamp(0, 1) / gains)
        shot, read = torch.tensor(p.shot, dtype=x.dtype), torch.tensor(p.read, dtype=x.dtype)
        raw = raw_noise(raw, shot, read, gen) + row_noise(raw.shape, read.sqrt(), torch.tensor(p.rows), gen)
        rgb = apply_matrix(demosaic_by(raw.clamp(0, 1), p.demosaic) * gains, matrix)
        developed = look(chroma_nr(tone_curve(p.exposure * rgb, p.tone), p.chroma_nr), p)
        u8 = to_u8(developed[0])
        if p.quality is not None:
            u8 = jpeg_roundtrip(u8, p.quality, p.subsampling)
        noisy.append(from_u8(u8))
        clean.append(from_u8(to_u8(look(tone_curve(p.exposure * x, p.tone), p)[0])))
    return torch.stack(noisy), torch.stack(clean)


def camera_output(photo: torch.Tensor, pipelines: list[Pipeline], gen: torch.Generator):
    """8-bit sRGB photos [B, 3, H, W] in [0, 1], taken as the scene -> (noisy, clean target)."""
    return develop(srgb_to_linear(photo), pipelines, gen)


def uniform(gen: torch.Generator, lo: float, hi: float) -> float:
    return float(torch.rand((), generator=gen, dtype=torch.float64) * (hi - lo) + lo)


def log_uniform(gen: torch.Generator, lo: float, hi: float) -> float:
    return math.exp(uniform(gen, math.log(lo), math.log(hi)))


def choice(gen: torch.Generator, options: tuple, held_out: tuple = ()) -> str:
    allowed = [o for o in options if o not in held_out]
    return allowed[int(torch.randint(len(allowed), (), generator=gen))]


def draw_pipeline(gen: torch.Generator, held_out: dict = HELD_OUT, plain: float = 0.0) -> Pipeline:
    """One camera from the training family: every stage drawn, variants in ``held_out`` never; with
    probability ``plain`` degrade.py's development (bilinear, sRGB, nothing else but JPEG half the time)."""
    shot = log_uniform(gen, *SHOT_RANGE)
    read = float(read_noise(torch.tensor(shot, dtype=torch.float64), gen))
    if plain and uniform(gen, 0, 1) < plain:
        quality = int(torch.randint(60, 96, (), generator=gen)) if uniform(gen, 0, 1) < 0.5 else None
        return Pipeline(shot=shot, read=read, gains=(uniform(gen, *RED_GAIN), 1.0, uniform(gen, *BLUE_GAIN)),
                        quality=quality)
    sharpen_kind = choice(gen, SHARPENS, held_out.get("sharpen", ()))
    compress = uniform(gen, 0, 1) < 0.6
    return Pipeline(
        shot=shot, read=read, gains=(uniform(gen, *RED_GAIN), 1.0, uniform(gen, *BLUE_GAIN)),
        matrix=uniform(gen, 0, 0.8), demosaic=choice(gen, DEMOSAICS, held_out.get("demosaic", ())),
        tone=choice(gen, TONES, held_out.get("tone", ())), sharpen=sharpen_kind,
        amount=uniform(gen, 0.2, 2.0) if sharpen_kind != "none" else 0.0, radius=uniform(gen, 0.6, 2.0),
        chroma_nr=uniform(gen, 0.5, 2.5) if uniform(gen, 0, 1) < 0.4 else 0.0,
        rows=uniform(gen, 0, 0.5) if uniform(gen, 0, 1) < 0.3 else 0.0,
        exposure=log_uniform(gen, *EXPOSURE),
        scale=(1.0, 1.0, 1.5, 2.0)[int(torch.randint(4, (), generator=gen))],
        quality=int(torch.randint(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1, (), generator=gen)) if compress else None,
        subsampling="4:2:0" if uniform(gen, 0, 1) < 0.7 else "4:4:4")


def at_level(p: Pipeline, shot: float) -> Pipeline:
    """The same camera at another ISO: the read noise follows the shot level's fit."""
    return replace(p, shot=shot, read=float(read_noise(torch.tensor(shot))))


# The benchmark's variants (bench/denoise.py --table pipelines), at one noise level. The first two are
# in the training family; the others use a HELD_OUT stage; "another maker" uses all of them at once with
# row noise and strong JPEG, as the test camera did.
EVAL_SHOT = 8e-3
VARIANTS = {
    "in family: bilinear, sRGB, JPEG q90": Pipeline(0, 0, quality=90),
    "in family: Malvar, filmic, unsharp, q80": Pipeline(0, 0, matrix=0.4, demosaic="malvar", tone="filmic",
                                                        sharpen="unsharp", amount=0.8, radius=1.0, quality=80),
    "held out: VNG demosaic": Pipeline(0, 0, matrix=0.3, demosaic="vng", sharpen="unsharp", amount=0.5, quality=85),
    "held out: Laplacian sharpening": Pipeline(0, 0, matrix=0.3, demosaic="hamilton_adams", sharpen="laplacian",
                                               amount=1.0, quality=85),
    "held out: Reinhard tone": Pipeline(0, 0, matrix=0.3, demosaic="malvar", tone="reinhard", quality=85),
    "held out: another maker": Pipeline(0, 0, matrix=0.5, demosaic="vng", tone="reinhard", sharpen="laplacian",
                                        amount=1.2, rows=0.4, quality=60),
}
VARIANTS = {name: at_level(p, EVAL_SHOT) for name, p in VARIANTS.items()}


def draw_variant(gen: torch.Generator, name: str) -> Pipeline:
    """The benchmark's camera ``name`` at a shot level drawn as the family's: a specialist's training cameras, which
    measure how far the network gets on a camera it has seen (the ceiling of the held-out check)."""
    return at_level(VARIANTS[name], log_uniform(gen, *SHOT_RANGE))
