"""Noise levels tuned to one model and one sampler (AYS-style: Sabour et al. 2024 optimise the steps
for each model; here by direct search on the sampler's own end error).

The tuned schedule keeps the given one's first level, last non-zero level and step count. Its
log-sigma increments are softmax(z), and z minimises the RMS distance between the sampler's result
and a teacher's from the same starts. The teacher is the probability-flow ODE solved to a tolerance
(samplers/ode.py), to the model's lowest level and D there. Levels tuned on a few noise seeds serve other
seeds when the error they remove is the model's, not those seeds': at 5-10 steps on the benchmark's
Gaussian mixtures they carry over (``python -m noisekit.bench samplers --tune``); at 20 steps on the
tight 2-d mixture they did not, which is why a share of the starts is held out to check.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from .. import progress
from ..limits import check_memory
from .ode import TooManyCalls, flow_states
from .solvers import sampling_bytes

EVALUATIONS_PER_STEP = 80  # Nelder-Mead budget: the benchmark's gains settle by about here
TEACHER_RTOLS = (1e-5, 1e-4, 1e-3)  # the teacher's tolerances, loosest last: far below the students' errors
TEACHER_CALLS = 1000  # model calls a tolerance may take before the next, looser one is tried
MAX_STEPS = 24  # direct search in more dimensions costs more than it finds
STOCHASTIC_OPTIONS = ("eta", "s_churn")
HOLDOUT = 0.25  # share of the starts kept out of the tuning, to check that the levels carry over


class Tuning(NamedTuple):
    sigmas: torch.Tensor  # the tuned levels, then 0 (float64); the given ones if tuning did not carry over
    error: float  # the sampler's RMS distance to the teacher on them, on the starts tuned on
    start_error: float  # the same on the given levels
    check_error: float  # on the held-out starts (nan without any): tuned levels
    check_start_error: float  # held-out starts, given levels
    kept: bool  # True: the tuned levels did no better on the held-out starts, so the given ones are returned


def levels_from_increments(z, sigma_max: float, sigma_min: float) -> torch.Tensor:
    """len(z) + 1 levels from sigma_max to sigma_min (both exactly), then 0, whose log-sigma increments are
    softmax(z): numbers, or a tensor whose gradients reach the levels (fit.refine moves levels so)."""
    z = torch.as_tensor(z, dtype=torch.float64)
    inner = (math.log(sigma_max) + math.log(sigma_min / sigma_max) * torch.softmax(z, 0).cumsum(0)[:-1]).exp()
    return torch.cat([z.new_tensor([sigma_max]), inner, z.new_tensor([sigma_min, 0.0])])


def increments_of(sigmas: torch.Tensor) -> np.ndarray:
    """The z of ``levels_from_increments`` that gives ``sigmas`` (descending, positive, then 0)."""
    return np.log(np.diff(-np.log(sigmas[:-1].double().numpy())))


def check_tunable(sigmas: torch.Tensor, sampler, who: str = "tune_sigmas") -> None:
    """Raise unless the schedule has 3..MAX_STEPS distinct positive levels then 0, and the sampler is
    deterministic (a noisekit ODE sampler without ancestral noise or churn)."""
    steps = len(sigmas) - 1
    if not 3 <= steps <= MAX_STEPS or float(sigmas[-1]) != 0 or not bool((sigmas[1:] < sigmas[:-1]).all()):
        raise ValueError(f"{who}: 'sigmas' must be 4..{MAX_STEPS + 1} strictly descending levels ending in 0 "
                         f"(3..{MAX_STEPS} steps: with 2 only the given levels fit), got {len(sigmas)} levels {sigmas.tolist()[:8]}; "
                         "connect a schedule node with steps in that range")
    entry = getattr(sampler, "entry", None)
    if entry is None or "ode" not in entry.tags:
        raise ValueError(f"{who}: 'sampler' must be a noisekit ODE sampler (euler, dpmpp_2m, unipc, pc_sigma, "
                         f"...), got {getattr(sampler, 'name', type(sampler).__name__)}")
    noisy = [k for k in STOCHASTIC_OPTIONS if sampler.options.get(k, 0) > 0]
    if noisy:
        raise ValueError(f"{who}: 'sampler' {sampler.name} adds noise ({noisy[0]} = {sampler.options[noisy[0]]}); "
                         f"set {noisy[0]} to 0: levels are tuned for the deterministic ODE")


def teacher_states(model, x: torch.Tensor, sigmas: torch.Tensor) -> list[torch.Tensor]:
    """The ODE through x at sigmas[0], solved to a tolerance (samplers/ode.py): x, its state at each of
    sigmas[1:-1], and its end: D after the flow down to the model's lowest level (or sigmas[-2], if lower).
    The tolerance is loosened tenfold for a model whose D is too rough to meet it in TEACHER_CALLS calls."""
    levels = sigmas.detach().double().cpu().tolist()
    lowest = float(getattr(model, "sigma_min", 0.0))
    floor = lowest if 0 < lowest < levels[-2] else levels[-2]
    path = levels[:-1] + ([floor] if floor < levels[-2] else [])
    for k, rtol in enumerate(TEACHER_RTOLS):
        try:
            states = flow_states(model, x, path, rtol, TEACHER_CALLS if k < len(TEACHER_RTOLS) - 1 else None)
            break
        except TooManyCalls:
            continue
    with torch.no_grad():
        end = model(states[-1], torch.full((len(x),), floor, dtype=x.dtype, device=x.device))
    return [x] + states[:len(levels) - 2] + [end]


def tune_sigmas(model, x: torch.Tensor, sampler, sigmas: torch.Tensor, evaluations: int | None = None,
                desc: str = "tune sigmas") -> Tuning:
    """The levels for ``sampler`` on ``model`` from the states ``x`` at sigmas[0] (noise at that level), with
    ``sigmas``' first and last non-zero levels and step count, minimising the RMS distance to the teacher.

    Nelder-Mead from ``sigmas``' own increments, ``evaluations`` sampler runs (default
    EVALUATIONS_PER_STEP per step); a bar counts them and an interrupt stops between them. A quarter
    of the starts (HOLDOUT; none of a single one) is held out: where the tuned levels do no better on
    them, the tuning fitted its own starts rather than the model, and the given levels are returned.
    """
    sigmas = sigmas.detach().double().cpu()
    check_tunable(sigmas, sampler)
    # the starts, the teacher's result and a sampler's state with its KEEP estimates, at once
    check_memory(f"tuning sigmas on {len(x)} starts of {tuple(x.shape[1:])}", sampling_bytes(x.numel(), x.element_size()))
    from scipy.optimize import minimize

    steps = len(sigmas) - 1
    evaluations = evaluations or EVALUATIONS_PER_STEP * steps
    bar = progress.bar(evaluations + 1, desc)
    target = teacher_states(model, x, sigmas)[-1]
    bar.update(1)
    top, bottom = float(sigmas[0]), float(sigmas[-2])
    held = round(HOLDOUT * len(x))

    def distance(levels, part):
        try:
            out = sampler(model, x[part], levels.to(x.dtype), disable=True)
        except FloatingPointError:  # levels on which the sampler diverges
            return math.inf
        return float((out - target[part]).square().mean().sqrt())

    def log_error(z):
        bar.update(1)
        return math.log(max(distance(levels_from_increments(z, top, bottom), slice(0, len(x) - held)), 1e-300))

    z0 = increments_of(sigmas)
    start = log_error(z0)
    simplex = np.vstack([z0, z0 + 0.5 * np.eye(steps - 1)])
    fit = minimize(log_error, z0, method="Nelder-Mead",
                   options={"maxfev": evaluations - 1, "xatol": 1e-3, "fatol": 1e-4, "initial_simplex": simplex})
    bar.update(max(0, evaluations - 1 - fit.nfev))  # an early convergence completes the bar
    tuned = levels_from_increments(fit.x, top, bottom)
    check, check_start = ((distance(tuned, slice(len(x) - held, None)), distance(sigmas, slice(len(x) - held, None)))
                          if held else (math.nan, math.nan))
    kept = fit.fun >= start or check >= check_start
    return Tuning(sigmas.clone() if kept else tuned, math.exp(start if kept else fit.fun), math.exp(start),
                  check_start if kept else check, check_start, kept)
