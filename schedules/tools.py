"""Tools on SIGMAS tensors. Each returns a new tensor; the input is never modified."""
from __future__ import annotations

import math

import torch

from .continuous import flow_shift_sigmas


def check_sigmas(sigmas: torch.Tensor, name: str = "sigmas") -> torch.Tensor:
    """Refuse anything but a finite, non-negative, non-increasing 1-D tensor."""
    if not isinstance(sigmas, torch.Tensor) or sigmas.ndim != 1:
        raise ValueError(f"{name} must be a 1-D tensor of noise levels, got {type(sigmas).__name__} "
                         f"{getattr(sigmas, 'shape', '')}")
    if not torch.isfinite(sigmas).all():
        raise ValueError(f"{name} contains NaN or inf: {sigmas.tolist()}")
    if (sigmas < 0).any():
        raise ValueError(f"{name} contains negative values: {sigmas.tolist()}")
    if len(sigmas) > 1 and (sigmas[1:] > sigmas[:-1]).any():
        raise ValueError(f"{name} must be descending (noisy to clean); use the flip tool for ascending ones")
    return sigmas


def split_at_step(sigmas: torch.Tensor, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(high, low): high = sigmas[:step+1], low = sigmas[step:], sharing sigmas[step] (ComfyUI SplitSigmas)."""
    return sigmas[: step + 1].clone(), sigmas[step:].clone()


def split_at_denoise(sigmas: torch.Tensor, denoise: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Split so the low part holds the last round(steps * denoise) steps (ComfyUI SplitSigmasDenoise)."""
    steps = len(sigmas) - 1
    return split_at_step(sigmas, steps - round(steps * denoise))


def flip(sigmas: torch.Tensor) -> torch.Tensor:
    """Reverse the order (clean to noisy, e.g. for inversion); a leading 0 becomes 1e-4 as ComfyUI does."""
    out = sigmas.flip(0).clone()
    if len(out) and out[0] == 0:
        out[0] = 1e-4
    return out


def splice(sigmas: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """sigmas followed by other, the join point once: [.., a] + [a, ..] -> [.., a, ..]."""
    if len(sigmas) and len(other) and math.isclose(float(sigmas[-1]), float(other[0]), rel_tol=1e-6):
        other = other[1:]
    return check_sigmas(torch.cat([sigmas, other.to(sigmas.dtype)]), "spliced sigmas")


def set_first(sigmas: torch.Tensor, sigma: float) -> torch.Tensor:
    out = sigmas.clone()
    out[0] = sigma
    return out


def extend(sigmas: torch.Tensor, points: int = 1, mode: str = "log_linear") -> torch.Tensor:
    """Insert `points` new sigmas between each consecutive pair, linear or log-linear (to 0: linear)."""
    out = []
    w = torch.arange(points + 1, dtype=sigmas.dtype) / (points + 1)
    for a, b in zip(sigmas[:-1], sigmas[1:]):
        if mode == "log_linear" and a > 0 and b > 0:
            out.append((a.log() + w * (b.log() - a.log())).exp())
        else:
            out.append(a + w * (b - a))
    return torch.cat(out + [sigmas[-1:]])


def multiply(sigmas: torch.Tensor, factor: float = 1.0) -> torch.Tensor:
    return sigmas * factor


def clamp(sigmas: torch.Tensor, sigma_min: float = 0.0, sigma_max: float = 1000.0) -> torch.Tensor:
    """Clamp each nonzero sigma into [sigma_min, sigma_max]; a final 0 stays 0."""
    return torch.where(sigmas > 0, sigmas.clamp(sigma_min, sigma_max), sigmas)


def truncate(sigmas: torch.Tensor, sigma_max: float = 1000.0) -> torch.Tensor:
    """Drop the leading sigmas above sigma_max (start sampling lower, keeping the rest)."""
    return sigmas[sigmas <= sigma_max].clone()


def flow_shift(sigmas: torch.Tensor, shift: float = 3.0) -> torch.Tensor:
    return flow_shift_sigmas(sigmas, shift)
