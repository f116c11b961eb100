"""Camera noise by unprocessing (Brooks et al. 2019, "Unprocessing images for learned raw denoising").

An 8-bit sRGB photo is taken back to the camera's raw space and noised there, then
developed again, so its noise has the structure of a real camera's:

    sRGB -> linear (inverse sRGB curve) -> undo white balance -> Bayer mosaic (RGGB)
    -> Poisson-Gaussian noise, variance shot * x + read -> bilinear demosaic
    -> white balance -> sRGB curve -> 8 bits -> sometimes JPEG (quality 60-95)

The noise is signal-dependent (shot), coloured by the white-balance gains, spatially
correlated by the demosaic and reshaped by the tone curve and JPEG. Shot levels are
log-uniform over the paper's range; the read level follows its fit to the shot level,
log read = 2.18 log shot + 1.20 (+ N(0, 0.26^2) when drawn). The Poisson part is the
paper's heteroscedastic Gaussian approximation. Images are [B, 3, H, W] in [0, 1].
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

SHOT_RANGE = (1e-4, 1.2e-2)  # Brooks et al. 2019, sec. 3.3 (variance per unit linear signal)
READ_FIT = (2.18, 1.20, 0.26)  # log read = a log shot + b + N(0, c^2)
RED_GAIN, BLUE_GAIN = (1.9, 2.4), (1.5, 1.9)  # white-balance gains drawn by the paper
JPEG_QUALITY = (60, 95)


SRGB_KNEE = 0.04045
LINEAR_KNEE = SRGB_KNEE / 12.92  # the standard's 0.0031308, to the digit that makes the curve invert exactly


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    """The inverse sRGB transfer function (IEC 61966-2-1)."""
    return torch.where(x <= SRGB_KNEE, x / 12.92, ((x.clamp(min=SRGB_KNEE) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    """The sRGB transfer function (IEC 61966-2-1): linear_to_srgb(srgb_to_linear(x)) == x to rounding."""
    return torch.where(x <= LINEAR_KNEE, 12.92 * x, 1.055 * x.clamp(min=LINEAR_KNEE) ** (1 / 2.4) - 0.055)


def read_noise(shot: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """Read-noise variance fitted to the shot level; with ``gen`` the paper's scatter about the fit."""
    a, b, c = READ_FIT
    log_read = a * shot.log() + b
    if gen is not None:
        log_read = log_read + c * torch.randn(shot.shape, generator=gen, dtype=shot.dtype)
    return log_read.exp()


def bayer_masks(h: int, w: int) -> torch.Tensor:
    """[3, H, W] 0/1 masks of the RGGB pattern: R at (even, even), B at (odd, odd), G elsewhere."""
    y, x = torch.meshgrid(torch.arange(h) % 2, torch.arange(w) % 2, indexing="ij")
    red, blue = (y == 0) & (x == 0), (y == 1) & (x == 1)
    return torch.stack([red, ~(red | blue), blue]).float()


def mosaic(rgb: torch.Tensor) -> torch.Tensor:
    """[B, 3, H, W] -> the single-channel Bayer raw [B, 1, H, W]."""
    return (rgb * bayer_masks(*rgb.shape[-2:]).to(rgb)).sum(1, keepdim=True)


BILINEAR = torch.tensor([[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])


def demosaic(raw: torch.Tensor) -> torch.Tensor:
    """Bilinear demosaic of [B, 1, H, W] RGGB: each channel a normalised convolution of its samples
    (so borders are exact too), the measured samples kept as they are."""
    masks = bayer_masks(*raw.shape[-2:]).to(raw)[None]
    kernel = BILINEAR.to(raw).expand(3, 1, 3, 3)
    sums = F.conv2d(raw * masks, kernel, padding=1, groups=3)
    weights = F.conv2d(masks.expand(raw.shape[0], -1, -1, -1), kernel, padding=1, groups=3)
    return torch.where(masks > 0, raw, sums / weights)


def jpeg(image_u8: np.ndarray, quality: int) -> bytes:
    """Baseline JPEG bytes of an 8-bit [H, W, 3] array (4:2:0, libjpeg's quality scaling)."""
    buffer = io.BytesIO()
    Image.fromarray(image_u8).save(buffer, format="JPEG", quality=int(quality))
    return buffer.getvalue()


def to_u8(image: torch.Tensor) -> np.ndarray:
    """[3, H, W] in [0, 1] -> 8-bit [H, W, 3]."""
    return (image.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def from_u8(image_u8: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(image_u8)).permute(2, 0, 1).float() / 255


@dataclass
class Camera:
    """One photo's noise: raw variance shot * x + read, white-balance gains (R, G, B), JPEG quality or None."""
    shot: float
    read: float
    gains: tuple[float, float, float] = (1.0, 1.0, 1.0)
    quality: int | None = None


def draw_cameras(n: int, gen: torch.Generator, jpeg_fraction: float = 0.5) -> list[Camera]:
    """n cameras over the paper's ISO range: log-uniform shot, fitted read with scatter, random gains."""
    lo, hi = math.log(SHOT_RANGE[0]), math.log(SHOT_RANGE[1])
    shot = (torch.rand(n, generator=gen, dtype=torch.float64) * (hi - lo) + lo).exp()
    read = read_noise(shot, gen)
    red = torch.rand(n, generator=gen) * (RED_GAIN[1] - RED_GAIN[0]) + RED_GAIN[0]
    blue = torch.rand(n, generator=gen) * (BLUE_GAIN[1] - BLUE_GAIN[0]) + BLUE_GAIN[0]
    compress = torch.rand(n, generator=gen) < jpeg_fraction
    quality = torch.randint(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1, (n,), generator=gen)
    return [Camera(float(shot[i]), float(read[i]), (float(red[i]), 1.0, float(blue[i])),
                   int(quality[i]) if compress[i] else None) for i in range(n)]


GAINS = (2.1, 1.0, 1.7)  # white balance of a daylight raw (within Brooks et al.'s ranges)
# The benchmark's two camera-noise levels (bench/denoise.py); bench/estimate.py tunes the blind estimate on them too,
# with training photos. The high level's shot is above SHOT_RANGE: a camera noisier than the model was trained on.
CAMERA_LEVELS = {"moderate, PNG": Camera(2.5e-3, float(read_noise(torch.tensor(2.5e-3))), GAINS, None),
                 "high, JPEG q90": Camera(2e-2, float(read_noise(torch.tensor(2e-2))), GAINS, 90)}


def raw_noise(raw: torch.Tensor, shot: torch.Tensor, read: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """raw + Gaussian noise of variance shot * raw + read (the paper's approximation of Poisson + Gaussian)."""
    return raw + (shot * raw.clamp(min=0) + read).sqrt() * torch.randn(raw.shape, generator=gen, dtype=raw.dtype)


def camera_noise(clean: torch.Tensor, cameras: list[Camera], gen: torch.Generator) -> torch.Tensor:
    """8-bit sRGB photos [B, 3, H, W] in [0, 1] -> the same photos as noisy 8-bit (or JPEG) camera output."""
    gains = torch.tensor([c.gains for c in cameras], dtype=clean.dtype)[:, :, None, None]
    raw = mosaic(srgb_to_linear(clean) / gains)
    shot = torch.tensor([c.shot for c in cameras], dtype=clean.dtype)[:, None, None, None]
    read = torch.tensor([c.read for c in cameras], dtype=clean.dtype)[:, None, None, None]
    developed = linear_to_srgb((demosaic(raw_noise(raw, shot, read, gen)) * gains).clamp(0, 1))
    out = []
    for image, camera in zip(developed, cameras):
        u8 = to_u8(image)
        if camera.quality is not None:
            u8 = np.asarray(Image.open(io.BytesIO(jpeg(u8, camera.quality))).convert("RGB"))
        out.append(from_u8(u8))
    return torch.stack(out)
