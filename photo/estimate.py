"""Noise-level estimation of a photo: patch PCA (Chen, Zhu & Heng, ICCV 2015).

White Gaussian noise of std sigma adds sigma^2 to every eigenvalue of the
covariance of r x r x C patches, while natural-image content lives in a few
directions. So the smallest eigenvalues are noise alone: going from the
largest eigenvalue down, the first tail whose mean no longer exceeds its
median (the signal eigenvalues, which skew the tail, are gone) has mean sigma^2.
This is robust to texture, unlike the median of the finest wavelet band
(Donoho & Johnstone 1994), which texture inflates.

Clipping at 0 and 1 shrinks the noise of dark and bright pixels (an 8-bit
photo at sigma 50/255 is clipped almost everywhere), so the eigenvalue mean
measures E[Var clip(mu + sigma z, 0, 1)] rather than sigma^2. With each
patch's per-channel mean as mu, that variance has a closed form (the censored
normal); sigma is the fixed point of sigma^2 = measured / (mean variance ratio).
Patches within ``clip_margin`` sigmas of 0 or 1 (blown highlights, crushed
shadows: their mean says little of mu) are left out. Choosing patches by their
mean does not bias the rest: a Gaussian patch's deviations from its mean are
independent of that mean.

Camera noise is not white: demosaicing and JPEG correlate it between neighbours, so its
power sits at low spatial frequencies, and the smallest patch eigenvalues (the finest
detail) see only a sliver of it (JPEG leaves almost none: photos with simulated camera
noise read several times low). The mean of each f x f block keeps that low-frequency noise
while white noise's std drops exactly f-fold; so the estimate is the largest of f times the
reading of the f x f-binned view, f in BINS, each view weighted by BINS[f]. For white noise
these agree. For camera noise the estimate is meant to be its RMS, the level that the camera
model (noisekit-camera) was trained on: the 2x view reads it for 8-bit camera noise; the 4x
view is the only one that sees the low-frequency noise JPEG leaves, but it also reads image
detail as noise, hence its lower weight, chosen on the training photos (README, "--sigma
auto"; ``python -m noisekit.bench estimate`` prints the trade-off).

``luma_reading`` is the same estimate on a colour photo's luma (JPEG's weights), scaled by
1 / |LUMA| so that white noise of std sigma in every channel reads sigma: what the camera model
is conditioned on. A camera's development concentrates its noise in luma: sharpening lifts luma
alone, JPEG's chroma subsampling and in-camera noise reduction strip chroma. Read on all three
channels, the smallest patch eigenvalues belong to the stripped chroma and see a sliver of the
noise, a sliver that differs from camera to camera; read on luma, the reading is nearly one
multiple of the noise's RMS over the cameras of training/pipelines.py (README, "Camera
pipelines"). The price: luma has texture in every patch direction, so a clean textured photo
reads high. A model conditioned on this reading learnt that; a white-noise model, given the
noise's std, must not be given it.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

PATCH = 5
MAX_PATCHES = 40_000
CLIP_MARGIN = 0.5
BINS = {1: 1.0, 2: 1.0, 4: 0.7}  # f -> the weight of the f x f-binned view's reading (see above)
LUMA = torch.tensor([0.299, 0.587, 0.114])  # ITU-R BT.601, as JPEG's Y


def noise_eigen_mean(eigenvalues: torch.Tensor) -> float:
    """Mean of the noise-only tail of descending eigenvalues: the first tail whose mean <= its median."""
    for i in range(len(eigenvalues)):
        tail = eigenvalues[i:]
        if tail.mean() <= tail.median():
            return float(tail.mean())
    return float(eigenvalues[-1])


def image_patches(image: torch.Tensor, patch: int, max_patches: int) -> torch.Tensor:
    """[N, C, patch*patch] patches of [B,H,W,C] images, on a stride grid so N stays near ``max_patches``."""
    x = image.movedim(-1, 1)
    b, c, h, w = x.shape
    count = b * (h - patch + 1) * (w - patch + 1)
    stride = max(1, math.ceil(math.sqrt(count / max_patches)))
    cols = F.unfold(x.float(), patch, stride=stride)  # [B, C*p*p, L]
    return cols.movedim(1, 2).reshape(-1, c, patch * patch).double()


def pca_sigma(patches: torch.Tensor) -> float:
    flat = patches.flatten(1)
    flat = flat - flat.mean(0)
    cov = flat.T @ flat / flat.shape[0]
    eigenvalues = torch.linalg.eigvalsh(cov).flip(0).clamp(min=0)
    return math.sqrt(noise_eigen_mean(eigenvalues))


def clipped_variance_ratio(mu: torch.Tensor, sigma: float) -> torch.Tensor:
    """Var(clip(mu + sigma z, 0, 1)) / sigma^2 for z ~ N(0, 1) (censored normal moments)."""
    a, b = -mu / sigma, (1 - mu) / sigma
    cdf_a, cdf_b = (1 + torch.erf(a / math.sqrt(2))) / 2, (1 + torch.erf(b / math.sqrt(2))) / 2
    pdf_a, pdf_b = torch.exp(-a**2 / 2) / math.sqrt(2 * math.pi), torch.exp(-b**2 / 2) / math.sqrt(2 * math.pi)
    inside = cdf_b - cdf_a
    m1 = (1 - cdf_b) + mu * inside + sigma * (pdf_a - pdf_b)
    m2 = (1 - cdf_b) + mu**2 * inside + 2 * mu * sigma * (pdf_a - pdf_b) + sigma**2 * (inside + a * pdf_a - b * pdf_b)
    return ((m2 - m1**2) / sigma**2).clamp(min=1e-3)


def mean_clipped_variance_ratio(means: torch.Tensor, sigma: float) -> float:
    """clipped_variance_ratio averaged over patch means, binned to 1/1024 (small tensors are fast)."""
    levels, counts = torch.unique((means * 1024).round() / 1024, return_counts=True)
    return float((clipped_variance_ratio(levels, sigma) * counts).sum() / counts.sum())


def estimate_sigma(image: torch.Tensor, patch: int = PATCH, clip_margin: float = CLIP_MARGIN,
                   max_patches: int = MAX_PATCHES) -> float:
    """Noise standard deviation on the [0, 1] scale of an IMAGE [H,W,C] or [B,H,W,C]
    (a batch is taken to share one noise level: call per item otherwise): white noise's std, or
    the RMS of correlated (camera, JPEG) noise read on binned views, whichever reads higher."""
    if not isinstance(image, torch.Tensor) or image.ndim not in (3, 4):
        raise ValueError(f"estimate_sigma: image must be a [H,W,C] or [B,H,W,C] tensor, got "
                         f"{getattr(image, 'shape', type(image).__name__)}")
    x = image.reshape(-1, *image.shape[-3:])
    if x.shape[-1] > 1 and bool((x == x[..., :1]).all()):
        x = x[..., :1]  # a grey picture as 3 equal channels: one channel's patches (else the covariance is singular)
    if min(x.shape[1:3]) < 2 * patch:
        raise ValueError(f"estimate_sigma: image {tuple(image.shape)} is too small to estimate its noise "
                         f"(needs at least {2 * patch} pixels a side); give the noise level instead")
    return max(weight * binned_sigma(x, f, patch, clip_margin, max_patches) for f, weight in BINS.items()
               if f == 1 or min(x.shape[1:3]) >= 4 * patch * f)


def luma_reading(image: torch.Tensor) -> float:
    """estimate_sigma of a colour IMAGE's luma, / |LUMA| (white noise reads its std); other images as they are."""
    if image.shape[-1] != 3:
        return estimate_sigma(image)
    return estimate_sigma((image.float() @ LUMA)[..., None]) / float(LUMA.norm())


def binned_sigma(x: torch.Tensor, f: int, patch: int = PATCH, clip_margin: float = CLIP_MARGIN,
                 max_patches: int = MAX_PATCHES) -> float:
    """f times the white-noise reading of the f x f-binned view of [B,H,W,C] images: white noise's std for
    white noise, more for noise correlated over f pixels."""
    return f * white_sigma(F.avg_pool2d(x.movedim(-1, 1).float(), f).movedim(1, -1), patch, clip_margin, max_patches)


def white_sigma(x: torch.Tensor, patch: int, clip_margin: float, max_patches: int) -> float:
    """Patch-PCA estimate of white noise's std in [B,H,W,C] images, corrected for clipping at 0 and 1."""
    patches = image_patches(x, patch, max_patches)
    means = patches.mean(-1)  # [N, C]
    sigma = pca_sigma(patches)
    if sigma == 0:
        return 0.0  # a flat picture: no noise to measure
    for _ in range(3):
        margin = clip_margin * sigma
        keep = ((means > margin) & (means < 1 - margin)).all(-1)
        if keep.sum() < 4 * patches[0].numel():  # too few patches for a covariance: keep them all
            keep = torch.ones_like(keep)
        measured = pca_sigma(patches[keep]) ** 2
        if measured == 0:
            return 0.0
        for _ in range(3):  # fixed point of sigma^2 = measured / ratio(sigma)
            sigma = math.sqrt(measured / mean_clipped_variance_ratio(means[keep], sigma))
    return sigma
