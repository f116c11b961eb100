"""The bundled pixel-space UNet: fully convolutional, GroupNorm, noise-level FiLM.

It is the raw network F of EDM (Karras et al. 2022); ``models.wrappers.EDMDenoiser``
adds the preconditioning that makes it a denoiser at every sigma. Any input
whose height and width are multiples of ``2 ** (len(mults) - 1)`` works; the
tiling code pads to that multiple.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class UNetConfig:
    channels: int = 32
    mults: tuple = (1, 2, 2, 3)
    blocks: int = 2
    emb_dim: int = 128
    in_channels: int = 3
    groups: int = 8

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "UNetConfig":
        d = dict(d)
        d["mults"] = tuple(d["mults"])
        return cls(**d)

    @property
    def forward_bytes_per_pixel(self) -> int:
        """Peak memory of a float32 forward pass per input pixel: about 18 full-size tensors of ``channels``
        (the skips of every level and the working tensors) were measured; 20 bounds it."""
        return 20 * self.channels * 4

    @property
    def multiple(self) -> int:
        """Height and width must be multiples of this."""
        return 2 ** (len(self.mults) - 1)


def fourier_features(c_noise: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of the scalar noise conditioning c_noise = ln(sigma)/4, computed in at
    least float32 (half-precision angles of up to ~100 rad would lose the phase) and in float64
    when c_noise is."""
    dtype = torch.promote_types(c_noise.dtype, torch.float32)
    freqs = torch.exp(torch.arange(dim // 2, device=c_noise.device, dtype=dtype) * (-math.log(1000.0) / (dim // 2)))
    angles = c_noise.to(dtype)[:, None] * freqs[None] * 100.0
    return torch.cat([angles.cos(), angles.sin()], dim=1)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, with the noise embedding as a FiLM scale/shift."""

    def __init__(self, cin: int, cout: int, emb_dim: int, groups: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.film = nn.Linear(emb_dim, 2 * cout)
        self.norm2 = nn.GroupNorm(groups, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        h = F.silu(self.norm2(h) * (1 + scale) + shift)
        return self.skip(x) + self.conv2(h)


class UNet(nn.Module):
    def __init__(self, config: UNetConfig = UNetConfig()):
        super().__init__()
        self.config = c = config
        widths = [c.channels * m for m in c.mults]
        self.embed = nn.Sequential(nn.Linear(c.emb_dim, c.emb_dim), nn.SiLU(), nn.Linear(c.emb_dim, c.emb_dim))
        self.stem = nn.Conv2d(c.in_channels, widths[0], 3, padding=1)
        self.down = nn.ModuleList()
        skips, cin = [widths[0]], widths[0]
        for level, w in enumerate(widths):
            for _ in range(c.blocks):
                self.down.append(ResBlock(cin, w, c.emb_dim, c.groups))
                cin = w
                skips.append(w)
            if level < len(widths) - 1:
                self.down.append(nn.Conv2d(w, w, 3, stride=2, padding=1))
                skips.append(w)
        self.mid = ResBlock(cin, cin, c.emb_dim, c.groups)
        self.up = nn.ModuleList()
        for level, w in reversed(list(enumerate(widths))):
            for _ in range(c.blocks + 1):
                self.up.append(ResBlock(cin + skips.pop(), w, c.emb_dim, c.groups))
                cin = w
            if level > 0:
                self.up.append(nn.Upsample(scale_factor=2, mode="nearest"))
        self.head = nn.Sequential(nn.GroupNorm(c.groups, cin), nn.SiLU(), nn.Conv2d(cin, c.in_channels, 3, padding=1))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        m = self.config.multiple
        if x.shape[-1] % m or x.shape[-2] % m:
            raise ValueError(f"UNet: input height and width must be multiples of {m}, got {tuple(x.shape[-2:])}; pad first")
        features = fourier_features(c_noise, self.config.emb_dim)
        emb = self.embed(features.to(self.embed[0].weight.dtype)).to(x.dtype)
        h = self.stem(x)
        skips = [h]
        for layer in self.down:
            h = layer(h, emb) if isinstance(layer, ResBlock) else layer(h)
            skips.append(h)
        h = self.mid(h, emb)
        for layer in self.up:
            h = layer(torch.cat([h, skips.pop()], dim=1), emb) if isinstance(layer, ResBlock) else layer(h)
        return self.head(h)
