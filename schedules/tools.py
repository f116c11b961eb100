"""Tools on SIGMAS tensors (1-D, descending noise levels, usually ending in 0).

Pure functions: each checks its input, returns new tensors and never modifies
the caller's. Split, flip and set-first follow ComfyUI's SplitSigmas,
SplitSigmasDenoise, FlipSigmas and SetFirstSigma nodes.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .continuous import flow_shift_sigmas


def parse_sigmas(text: str, owner: str, name: str = "sigmas") -> torch.Tensor:
    """Numbers separated by commas or spaces (brackets allowed, as a pasted list) -> a float64 tensor."""
    parts = str(text).replace(",", " ").replace("[", " ").replace("]", " ").split()
    try:
        return torch.tensor([float(p) for p in parts], dtype=torch.float64)
    except ValueError:
        raise ValueError(f"{owner}: '{name}' must be numbers separated by commas, got {str(text)[:80]!r}") from None


def check_sigmas(sigmas, owner: str, name: str = "sigmas", order: str = "descending") -> torch.Tensor:
    """A finite, non-negative 1-D tensor in the given order ("descending"; "monotone", i.e. either
    way; or "any"; repeats allowed); integer tensors become float64."""
    if not isinstance(sigmas, torch.Tensor) or sigmas.ndim != 1:
        got = f"a tensor of shape {tuple(sigmas.shape)}" if isinstance(sigmas, torch.Tensor) else type(sigmas).__name__
        raise ValueError(f"{owner}: '{name}' must be a 1-D tensor of noise levels, got {got}")
    if not sigmas.is_floating_point():
        sigmas = sigmas.to(torch.float64)
    if not torch.isfinite(sigmas).all():
        raise ValueError(f"{owner}: '{name}' contains NaN or inf: {sigmas.tolist()}")
    if (sigmas < 0).any():
        raise ValueError(f"{owner}: '{name}' contains negative noise levels (each must be >= 0): {sigmas.tolist()}")
    down = order == "any" or bool((sigmas[1:] <= sigmas[:-1]).all())
    if not down and not (order == "monotone" and bool((sigmas[1:] >= sigmas[:-1]).all())):
        raise ValueError(f"{owner}: '{name}' must be descending (noisy to clean), got {sigmas.tolist()}; "
                         "reverse an ascending schedule with the flip tool")
    return sigmas


def split_at_step(sigmas: torch.Tensor, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(high, low) = (sigmas[:step+1], sigmas[step:]): both hold sigmas[step] (ComfyUI SplitSigmas)."""
    sigmas = check_sigmas(sigmas, "split_at_step")
    if not 0 <= step < len(sigmas):
        raise ValueError(f"split_at_step: 'step' must be in [0, {len(sigmas) - 1}] for {len(sigmas) - 1} steps, "
                         f"got {step}")
    return sigmas[: step + 1].clone(), sigmas[step:].clone()


def split_at_denoise(sigmas: torch.Tensor, denoise: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(high, low) with the last round(steps * denoise) steps in low (ComfyUI SplitSigmasDenoise).

    low is what an img2img pass of strength ``denoise`` runs. At denoise = 0 low is the last
    sigma alone and high the whole schedule (ComfyUI returns an empty high there, a slicing
    artefact).
    """
    sigmas = check_sigmas(sigmas, "split_at_denoise")
    if not 0 <= denoise <= 1:
        raise ValueError(f"split_at_denoise: 'denoise' must be in [0, 1], got {denoise}")
    if len(sigmas) == 0:
        return sigmas.clone(), sigmas.clone()
    steps = len(sigmas) - 1
    return split_at_step(sigmas, steps - round(steps * denoise))



def img2img_sigmas(full_schedule, steps: int, fraction: float) -> torch.Tensor:
    """The last steps + 1 sigmas of a schedule of int(steps / fraction) steps: ComfyUI's rule for
    a sampler's ``denoise`` input (the fraction of the schedule an img2img pass runs).

    ``full_schedule(n)`` returns an n-step schedule. fraction = 1 is the full schedule;
    fraction = 0 is empty (nothing to do).
    """
    if not 0.0 <= fraction <= 1.0 or math.isnan(fraction):
        raise ValueError(f"img2img_sigmas: the denoise fraction must be in [0, 1], got {fraction}")
    if fraction == 0.0:
        return torch.zeros(0, dtype=torch.float64)
    total = int(steps / fraction)
    return full_schedule(total)[-(steps + 1):].clone()


def flip(sigmas: torch.Tensor) -> torch.Tensor:
    """Reverse the order (clean to noisy, e.g. to invert an image to its noise), as ComfyUI's
    FlipSigmas: a leading 0 becomes 1e-4, since no model step starts at sigma = 0."""
    out = check_sigmas(sigmas, "flip", order="monotone").flip(0)
    if len(out) and out[0] == 0:
        out[0] = 1e-4
    return out


def splice(sigmas: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """``sigmas`` then ``other``, the join point once: [.., a] + [a, ..] -> [.., a, ..].

    The inverse of split_at_step. The join must not go up: other starts at or below
    the last sigma of the first schedule.
    """
    sigmas, other = check_sigmas(sigmas, "splice"), check_sigmas(other, "splice", "other")
    if len(sigmas) and len(other):
        last, first = float(sigmas[-1]), float(other[0])
        if math.isclose(last, first, rel_tol=1e-6, abs_tol=1e-12):
            other = other[1:]
        elif first > last:
            raise ValueError(f"splice: 'other' starts at {first:g}, above the last sigma {last:g} of 'sigmas'; "
                             "the joined schedule must descend")
    return torch.cat([sigmas, other.to(sigmas)])


def set_first(sigmas: torch.Tensor, sigma: float) -> torch.Tensor:
    """Replace the first sigma (e.g. start above the model's sigma_max), as ComfyUI's SetFirstSigma."""
    sigmas = check_sigmas(sigmas, "set_first")
    if len(sigmas) == 0:
        raise ValueError("set_first: 'sigmas' is empty; there is no first sigma to set")
    if len(sigmas) > 1 and sigma < sigmas[1]:
        raise ValueError(f"set_first: 'sigma' = {sigma:g} is below the second sigma {float(sigmas[1]):g}; "
                         "the schedule must stay descending")
    out = sigmas.clone()
    out[0] = sigma
    return out


def extend(sigmas: torch.Tensor, points: int = 1, mode: str = "log_linear") -> torch.Tensor:
    """Insert ``points`` sigmas between each consecutive pair, evenly in sigma ("linear") or in
    log sigma ("log_linear", geometric; a pair ending in 0 is filled linearly, log 0 being -inf).
    Every original sigma stays, so the result has (len - 1) (points + 1) + 1 entries."""
    sigmas = check_sigmas(sigmas, "extend")
    if points < 0:
        raise ValueError(f"extend: 'points' must be >= 0, got {points}")
    if mode not in ("linear", "log_linear"):
        raise ValueError(f"extend: 'mode' must be 'linear' or 'log_linear', got {mode!r}")
    if len(sigmas) < 2:
        return sigmas.clone()
    a, b = sigmas[:-1, None], sigmas[1:, None]
    w = torch.arange(points + 1, dtype=sigmas.dtype) / (points + 1)
    filled = a + w * (b - a)
    if mode == "log_linear":
        geometric = torch.exp(a.log() + w * (b.log() - a.log()))
        filled = torch.where((b > 0) & (a > 0), geometric, filled)
    filled[:, 0] = sigmas[:-1]  # the original sigmas exactly, not exp(log(.)) of them
    return torch.cat([filled.reshape(-1), sigmas[-1:]])


def resample(sigmas: torch.Tensor, steps: int = 10) -> torch.Tensor:
    """The same schedule at another step count: log sigma as a monotone cubic (PCHIP) of the fraction of the
    schedule done, read at ``steps`` even fractions. Its shape, its first and last noise level and a final 0
    are kept exactly, and at the schedule's own step count every sigma is given back."""
    from scipy.interpolate import PchipInterpolator

    sigmas = check_sigmas(sigmas, "resample")
    if steps < 1:
        raise ValueError(f"resample: 'steps' must be >= 1, got {steps}")
    zero_end = len(sigmas) > 1 and float(sigmas[-1]) == 0
    levels = sigmas[:-1] if zero_end else sigmas
    if len(levels) < 2 or float(levels[-1]) <= 0:
        raise ValueError(f"resample: 'sigmas' needs at least two noise levels above 0 (only the last sigma may be "
                         f"0), got {sigmas.tolist()}")
    count = steps if zero_end else steps + 1
    if count < 2:  # one step to 0 from the first level
        out = levels[:1].double()
    else:
        log = PchipInterpolator(np.linspace(0, 1, len(levels)), levels.double().log().numpy())
        out = torch.from_numpy(np.exp(log(np.linspace(0, 1, count))))
        out[0], out[-1] = levels[0], levels[-1]  # exactly, not exp(log(.)) of them
    return torch.cat([out, torch.zeros(1, dtype=torch.float64)] if zero_end else [out]).to(sigmas.dtype)


def multiply(sigmas: torch.Tensor, factor: float = 1.0) -> torch.Tensor:
    """Scale every sigma by ``factor`` > 0."""
    sigmas = check_sigmas(sigmas, "multiply")
    if not factor > 0:
        raise ValueError(f"multiply: 'factor' must be > 0, got {factor}")
    return sigmas * factor


def clamp(sigmas: torch.Tensor, sigma_min: float = 0.0, sigma_max: float = 1000.0) -> torch.Tensor:
    """Clamp each nonzero sigma into [sigma_min, sigma_max]; a final 0 stays 0.

    Sigmas clamped to the same bound repeat (zero-length steps, which noisekit's samplers
    skip); use truncate to drop the leading ones instead.
    """
    sigmas = check_sigmas(sigmas, "clamp")
    if not 0 <= sigma_min <= sigma_max:
        raise ValueError(f"clamp: need 0 <= sigma_min <= sigma_max, got sigma_min={sigma_min}, sigma_max={sigma_max}")
    return torch.where(sigmas > 0, sigmas.clamp(sigma_min, sigma_max), sigmas)


def truncate(sigmas: torch.Tensor, sigma_max: float = 1000.0, steps: int = 0) -> torch.Tensor:
    """Drop the leading sigmas above ``sigma_max`` (start lower on the same schedule), then keep
    at most the first ``steps`` steps (steps + 1 sigmas; 0 keeps all)."""
    sigmas = check_sigmas(sigmas, "truncate")
    if steps < 0:
        raise ValueError(f"truncate: 'steps' must be >= 0 (0 keeps every step), got {steps}")
    kept = sigmas[sigmas <= sigma_max]
    return (kept[: steps + 1] if steps else kept).clone()


def flow_shift(sigmas: torch.Tensor, shift: float = 3.0) -> torch.Tensor:
    """Rectified-flow time shift of every sigma: s sigma / (1 + (s - 1) sigma) (Esser et al. 2024)."""
    sigmas = check_sigmas(sigmas, "flow_shift")
    if not shift > 0:
        raise ValueError(f"flow_shift: 'shift' must be > 0, got {shift}")
    if len(sigmas) and sigmas.max() > 1:
        raise ValueError(f"flow_shift: flow 'sigmas' lie in [0, 1], got max {float(sigmas.max()):g}; "
                         "use a flow schedule")
    return flow_shift_sigmas(sigmas, shift)
