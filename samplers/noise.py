"""Seeded noise that does not depend on the device or the batch size.

Seeding rule: item i of a batch draws from its own CPU generator seeded with
seed + i (the initial noise, ``unit_noise``), seed + i + STEP_STREAM (per-step
noise, ``NoiseSampler``) or seed + i + 2 STEP_STREAM + node (Brownian tree), and
the draw is then moved to the device and dtype. So item i of a batch run with
seed S equals a batch-1 run with seed S + i, bit for bit, on any device, and the
same seed gives the same item whatever the batch size.
"""
from __future__ import annotations

import torch

STEP_STREAM = 0x5DEECE66D  # offset that separates per-step noise from the initial noise


def _generator(seed: int) -> torch.Generator:
    return torch.Generator("cpu").manual_seed(int(seed) % (2**63))


def unit_noise(shape, seed: int, device=None, dtype=torch.float32, stream: int = 0) -> torch.Tensor:
    """N(0, 1) noise of ``shape`` [B, ...]: item i from a CPU generator seeded seed + i."""
    items = [torch.randn(tuple(shape[1:]), generator=_generator(seed + i + stream), dtype=torch.float32)
             for i in range(shape[0])]
    return torch.stack(items).to(device=device, dtype=dtype)


class NoiseSampler:
    """Per-step unit noise ``(sigma, sigma_next) -> eps`` like x, one CPU generator per item."""

    def __init__(self, x: torch.Tensor, seed: int | None):
        seed = 0 if seed is None else seed
        self.gens = [_generator(seed + i + STEP_STREAM) for i in range(x.shape[0])]
        self.like = x

    def __call__(self, sigma=None, sigma_next=None) -> torch.Tensor:
        x = self.like
        items = [torch.randn(tuple(x.shape[1:]), generator=g, dtype=torch.float32) for g in self.gens]
        return torch.stack(items).to(device=x.device, dtype=x.dtype)


class BrownianTreeNoiseSampler:
    """Noise from one Brownian path W(sigma) per item, queried by bisection (a Brownian tree).

    The increment over [sigma_next, sigma] is the same whichever steps query it, so SDE
    samplers converge to one solution as the step count grows. Each tree node's
    midpoint draw is seeded by (item seed, node index), so no state is kept.
    """

    def __init__(self, x: torch.Tensor, sigma_min: float, sigma_max: float, seed: int | None, depth: int = 24):
        self.seed = 0 if seed is None else seed
        self.lo, self.hi, self.depth, self.like = float(sigma_min), float(sigma_max), depth, x
        self.shape = tuple(x.shape[1:])
        self.known = {}  # (item, t) -> W(t): each step re-queries the previous step's end
        self.w_hi = [self._draw(i, 0) * (self.hi - self.lo) ** 0.5 for i in range(x.shape[0])]

    def _draw(self, item: int, node: int) -> torch.Tensor:
        g = _generator(self.seed + item + STEP_STREAM * 2 + node * 0x9E3779B1)
        return torch.randn(self.shape, generator=g, dtype=torch.float64)

    def _w(self, item: int, t: float) -> torch.Tensor:
        """W(t) - W(lo) by Brownian-bridge bisection, then linear inside the last interval."""
        t = min(max(t, self.lo), self.hi)
        if (item, t) not in self.known:
            if len(self.known) > 4 * len(self.w_hi):
                self.known.clear()
            self.known[item, t] = self._bisect(item, t)
        return self.known[item, t]

    def _bisect(self, item: int, t: float) -> torch.Tensor:
        a, b, wa, wb, node = self.lo, self.hi, torch.zeros(self.shape, dtype=torch.float64), self.w_hi[item], 1
        for _ in range(self.depth):
            m = (a + b) / 2
            wm = (wa + wb) / 2 + ((b - a) / 4) ** 0.5 * self._draw(item, node)
            if t < m:
                b, wb, node = m, wm, 2 * node
            else:
                a, wa, node = m, wm, 2 * node + 1
        return wa + (wb - wa) * ((t - a) / (b - a))

    def __call__(self, sigma, sigma_next) -> torch.Tensor:
        s0, s1 = sorted((float(sigma), float(sigma_next)))
        scale = max(s1 - s0, 1e-30) ** 0.5
        items = [(self._w(i, s1) - self._w(i, s0)) / scale for i in range(len(self.w_hi))]
        return torch.stack(items).to(device=self.like.device, dtype=self.like.dtype)
