"""Tiled inference: a denoiser applied tile by tile with overlapping, smoothly
blended tiles, so any photo size runs in bounded memory without seams.

Each tile's weight is a raised-cosine ramp over the overlap on the sides that
border another tile (1 elsewhere), zero over a guard band of overlap // 4
pixels at the tile's edge (those see the tile's padding, not the image); the
blend divides by the summed weights, so the result is a partition of unity
whatever the tile layout. A denoiser whose receptive field reaches at most
overlap // 4 pixels gives exactly the untiled answer; wider ones (a UNet) are
blended smoothly, with small weights where a tile's padding is felt.
Tiles are reflect-padded to the network's size multiple and cropped back.
Memory: one tile of activations plus the full-size output and weight sum.
With ``where`` (a [1, 1, H, W] bool map) only the tiles holding a True pixel are computed and
the rest of the output is the input (inpainting needs the model only in the hole).

Speed on a CPU: a network sees its tiles in channels_last layout (the layout oneDNN's convolutions
run fastest in) and, with precision "auto", under bf16 autocast where the CPU computes bf16 natively
(AVX512-BF16 or AMX); elsewhere and with "fp32" it runs in float32. Tiles of a few hundred pixels keep
each activation below glibc's mmap threshold, so memory is reused instead of mapped and zeroed by
the kernel for every layer.
"""
from __future__ import annotations

import contextlib
import math

import torch

from ..models.space import pad_to_multiple

PRECISIONS = ("auto", "fp32")


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    if size <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, size - tile, stride)) + [size - tile]
    return sorted(set(starts))


def ramp(length: int, overlap: int, rise: bool, fall: bool) -> torch.Tensor:
    """1-D blend weight of a tile: on a side that borders another tile, zero over a guard band of
    overlap // 4 pixels (they see the tile's padding), then a raised-cosine rise over the rest."""
    w = torch.ones(length, dtype=torch.float32)
    n = min(overlap, length // 2)
    guard = n // 4
    edge = torch.zeros(n)
    k = torch.arange(n - guard, dtype=torch.float32)
    edge[guard:] = 0.5 - 0.5 * torch.cos(math.pi * (k + 1) / (n - guard + 1))
    if rise:
        w[:n] = edge
    if fall:
        w[length - n:] = edge.flip(0)
    return w


def native_bf16(device: torch.device) -> bool:
    """Whether this CPU has bf16 arithmetic (AVX512-BF16 or AMX); emulated bf16 is slower than fp32."""
    if device.type != "cpu":
        return False
    check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    return bool(check and check()) or bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())


def network_dtype(model) -> torch.dtype | None:
    """The dtype of a network's weights; None for a model that is not a torch module (analytic denoisers)."""
    if isinstance(model, torch.nn.Module):
        for p in model.parameters():
            return p.dtype
    return None


def inference_mode(model, x: torch.Tensor, precision: str):
    """bf16 autocast for a float32 network on a CPU with native bf16 when precision is "auto", else nothing."""
    if precision == "auto" and network_dtype(model) == torch.float32 and native_bf16(x.device):
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


class TiledDenoiser:
    """D(x, sigma) evaluated in tiles of ``tile`` pixels with ``overlap``; a Denoiser itself.
    precision: "fp32", or "auto" (bf16 autocast where the CPU has it, for a float32 network)."""

    def __init__(self, model, tile: int = 512, overlap: int = 64, multiple: int = 8, on_tile=None,
                 precision: str = "fp32", where=None):
        if overlap < 2 or tile < 2 * overlap or tile % multiple:
            raise ValueError(f"tiling: tile ({tile}) must be a multiple of {multiple} and at least twice the overlap "
                             f"({overlap}, which must be >= 2)")
        if precision not in PRECISIONS:
            raise ValueError(f"tiling: precision must be one of {PRECISIONS}, got {precision!r}")
        self.model, self.tile, self.overlap, self.multiple, self.on_tile = model, tile, overlap, multiple, on_tile
        self.where = where
        self.precision = precision
        self.sigma_min, self.sigma_max = model.sigma_min, model.sigma_max
        self.parameterisation = getattr(model, "parameterisation", "edm")

    def count(self, h: int, w: int) -> int:
        return len(tile_starts(h, self.tile, self.overlap)) * len(tile_starts(w, self.tile, self.overlap))

    def denoise_tile(self, patch: torch.Tensor, sigma: torch.Tensor, **cond) -> torch.Tensor:
        """The model on one tile, padded to its size multiple; a network gets it in channels_last."""
        padded, (ph, pw) = pad_to_multiple(patch, self.multiple)
        if network_dtype(self.model) is not None and padded.ndim == 4:
            padded = padded.contiguous(memory_format=torch.channels_last)
        with inference_mode(self.model, padded, self.precision):
            result = self.model(padded, sigma, **cond)
        return result[..., :ph, :pw].to(patch.dtype)

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **cond) -> torch.Tensor:
        h, w = x.shape[-2:]
        ys, xs = tile_starts(h, self.tile, self.overlap), tile_starts(w, self.tile, self.overlap)
        out = torch.zeros_like(x)
        weight = torch.zeros(1, 1, h, w, dtype=x.dtype, device=x.device)
        for y in ys:
            for x0 in xs:
                if self.where is not None and not self.where[..., y:y + self.tile, x0:x0 + self.tile].any():
                    continue
                result = self.denoise_tile(x[..., y:y + self.tile, x0:x0 + self.tile], sigma, **cond)
                ph, pw = result.shape[-2:]
                wy = ramp(ph, self.overlap, y > 0, y + ph < h).to(x)
                wx = ramp(pw, self.overlap, x0 > 0, x0 + pw < w).to(x)
                wt = wy[:, None] * wx[None, :]
                out[..., y:y + ph, x0:x0 + pw] += result * wt
                weight[..., y:y + ph, x0:x0 + pw] += wt
                if self.on_tile is not None:
                    self.on_tile()
        return out / weight if self.where is None else torch.where(weight > 0, out / weight.clamp(min=1e-12), x)
