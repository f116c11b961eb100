"""A solver fitted to one model (PAS / S4S-style: per-step coefficients learned from the model's own
trajectories, Zhou et al. 2024, Frankel et al. 2025), beside the levels of ``tune.py``.

The fitted solver takes one model call per step and moves the state by a linear multistep update

    x_{i+1} = r_i x_i + sum_j w_ij D_j     over the newest HISTORY denoised estimates D_j,

whose r_i and w_ij are free numbers per step. Every usual one-call solver of the data-prediction form
(DPM-Solver++(2M), the predictors of UniPC and pc_sigma) is one choice of them on given levels.
They are fitted in two passes. From training starts, a teacher (the probability-flow ODE solved to a
tolerance, tune.teacher_states) gives the exact-enough state at every level and the end. First step by step: step i's
coefficients are the least squares fit of the teacher's state at level i + 1 from the solver's own
state and estimates there (which the steps fitted before produced), a small linear solve that sees
the errors the earlier steps really make; the last step (to sigma = 0) fits the teacher's end.
Then jointly (``refine``): every coefficient at once, by L-BFGS on the mean squared distance of the
solver's end from the teacher's, with gradients through the model; a step may then miss the
teacher's state at its level where that makes the end better. From there once more with the inner
levels free too (where the model is called; the first and last non-zero level stay), in the
parametrisation Tune Sigmas searches (``tune.levels_from_increments``). A model that
gives no gradient (weights made in inference mode, as ComfyUI loads checkpoints) keeps the
step-by-step fit; the held-out starts choose among the three (a refinement that does no better
there fitted the training starts, not the model). The benchmark's numbers are in the
README (``python -m noisekit.bench samplers --mixtures``).

A share of the starts (HOLDOUT) is held out: where the fitted solver does no better there than the
untuned ``base`` sampler on the same levels, the base comes back.
"""
from __future__ import annotations

import json
import math
import time
from typing import NamedTuple

import torch

from .. import progress
from ..files import read_limited, write_new
from ..limits import budget, check_memory
from .solvers import KEEP, Run
from .tune import HOLDOUT, check_tunable, increments_of, levels_from_increments, teacher_states, tune_sigmas

HISTORY = KEEP  # denoised estimates a step combines: the samplers' own memory
RIDGE = 1e-6  # Tikhonov weight (relative to the mean diagonal): keeps near-collinear estimates' weights finite
REFINE_ITERATIONS = 60  # L-BFGS iterations of the joint refinement
PRESET_KIND = "noisekit fitted solver"
PRESET_BYTES = 1 << 20  # a preset is a few hundred numbers


class FittedSolver:
    """The fitted multistep solver on its own levels, callable with the k-diffusion signature."""

    name = "fitted"
    options: dict = {}

    def __init__(self, sigmas: list[float], steps: list[tuple[float, list[float]]]):
        self.sigmas, self.steps = [float(v) for v in sigmas], [(float(r), [float(w) for w in ws]) for r, ws in steps]

    def __call__(self, model, x, sigmas, extra_args=None, callback=None, disable=None):
        self.check_levels(sigmas)
        run = Run(self.name, model, x, sigmas, extra_args, callback, disable)
        for i in run:
            denoised = run.denoised(x, run.sigmas[i])
            run.remember(i, denoised)
            x = self.step(i, x, run.history)
            run.report(i, x, denoised)
        return x

    def step(self, i, x, history):
        return combine(*self.steps[i], x, history)

    def check_levels(self, sigmas):
        given = sigmas.detach().double().cpu().tolist()
        if len(given) != len(self.sigmas) or any(abs(a - b) > 1e-4 * max(b, 1e-8) for a, b in zip(given, self.sigmas)):
            raise ValueError(f"fitted solver: 'sigmas' must be the levels it was fitted on ({len(self.sigmas)} levels "
                             f"{', '.join(f'{v:.4g}' for v in self.sigmas)}), got {len(given)} levels "
                             f"{', '.join(f'{v:.4g}' for v in given[:12])}; connect the SIGMAS output of the node "
                             "that made the sampler (Tune Sampler or Load Sampler Preset)")

    def __repr__(self):
        return f"FittedSolver({len(self.steps)} steps)"


class SolverFit(NamedTuple):
    sampler: object  # the FittedSolver, or ``base`` where it did no better on the held-out starts
    sigmas: torch.Tensor  # the levels (float64) ``sampler`` is for: tuned or given, perhaps moved by the refinement
    error: float  # the fitted solver's RMS distance to the teacher on the training starts
    base_error: float  # the base's, same starts
    check_error: float  # fitted, held-out starts (nan without any)
    check_base_error: float  # base, held-out starts
    check_unipc_error: float  # UniPC (order 2 below 10 steps, else 3) on the given levels, held-out starts
    kept: bool  # True: the fit did no better on the held-out starts, so ``sampler`` is the base
    refined: bool  # True: the joint refinement improved the step-by-step fit, held-out starts too (False: no
    # gradient through the model, or no better)
    levels_refined: bool  # True: that refinement moved the inner levels too
    seconds: float  # the fit's wall time, teacher included


def combine(r, weights, x: torch.Tensor, history) -> torch.Tensor:
    """One step: r x + sum_j w_j D_j over the newest estimates (numbers, or tensors that carry gradients)."""
    out = r * x
    for w, (_, d) in zip(weights, history):
        out = out + w * d
    return out


def end_state(model, x: torch.Tensor, sigmas: torch.Tensor, steps) -> torch.Tensor:
    """The solver with coefficients ``steps`` [(r, weights)] from x down ``sigmas``: its end."""
    run = Run("fitted", model, x, sigmas, None, None, True)
    for i in run:
        run.remember(i, run.denoised(x, run.sigmas[i]))
        x = combine(*steps[i], x, run.history)
    return x


def autograd_bytes(model, x: torch.Tensor, sigma: float) -> int:
    """Bytes autograd keeps for one model call on ``x``, measured: what differentiating through a call costs."""
    kept = []

    def pack(t):
        kept.append(t.numel() * t.element_size())
        return t

    with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x.detach().requires_grad_(), x.new_full((len(x),), sigma))
    return sum(kept)


def refine(model, x: torch.Tensor, solver: FittedSolver, target: torch.Tensor, levels: bool = False,
           bar=None) -> FittedSolver:
    """``solver``'s coefficients (with ``levels``, also its inner levels) refined jointly: L-BFGS on the mean squared
    distance of its end from ``target``, the gradients through the model (the last step's r stays 0: nothing of x
    survives to sigma = 0; the first and last non-zero levels stay). A model that gives no gradient, one whose every
    call kept for the backward pass would pass the memory budget, or a refinement that ends no nearer, returns
    ``solver``. ``bar`` advances by REFINE_ITERATIONS: one per evaluation, the rest at the end."""
    evaluations = [0]

    def evaluated():
        if bar is not None and evaluations[0] < REFINE_ITERATIONS:
            bar.update(1)
        evaluations[0] += 1

    try:
        return lbfgs_refined(model, x, solver, target, levels, evaluated)
    finally:
        if bar is not None:
            bar.update(max(0, REFINE_ITERATIONS - evaluations[0]))


@torch.inference_mode(False)  # nodes run in inference mode, whose tensors take no part in autograd
def lbfgs_refined(model, x: torch.Tensor, solver: FittedSolver, target: torch.Tensor, levels: bool,
                  evaluated) -> FittedSolver:
    x, target = x.clone(), target.clone()  # normal tensors where the caller's were made in inference mode
    try:
        if autograd_bytes(model, x[:1], solver.sigmas[0]) * len(x) * len(solver.steps) > budget():
            return solver
    except RuntimeError:  # no gradient through this model (its weights made in inference mode, as ComfyUI loads them)
        return solver
    sigmas = torch.tensor(solver.sigmas, dtype=torch.float64)
    free = lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True)
    steps = [(r if solver.sigmas[i + 1] == 0 else free(r), free(ws)) for i, (r, ws) in enumerate(solver.steps)]
    increments = torch.from_numpy(increments_of(sigmas)).requires_grad_(levels)
    variables = [v for step in steps for v in step if isinstance(v, torch.Tensor)] + ([increments] if levels else [])
    moved = lambda: levels_from_increments(increments, solver.sigmas[0], solver.sigmas[-2]) if levels else sigmas
    error = lambda at, coefficients: (end_state(model, x, at, coefficients) - target).double().square().mean()
    optimizer = torch.optim.LBFGS(variables, max_iter=REFINE_ITERATIONS, line_search_fn="strong_wolfe")

    def closure():
        evaluated()
        optimizer.zero_grad()
        value = error(moved(), steps)
        value.backward()
        return value

    try:
        with torch.enable_grad():
            optimizer.step(closure)
    except RuntimeError:  # no gradient through this model after all
        return solver
    with torch.no_grad():
        refined = FittedSolver(moved().tolist(), [(torch.as_tensor(r).item(), v.tolist()) for r, v in steps])
        better = error(torch.tensor(refined.sigmas, dtype=torch.float64), refined.steps) < error(sigmas, solver.steps)
    return refined if better else solver


def least_squares(columns: list[torch.Tensor], target: torch.Tensor) -> list[float]:
    """The c minimising |sum_k c_k columns_k - target|^2 + RIDGE mean(diag G) |c|^2 (normal equations in float64)."""
    a = torch.stack([c.reshape(-1).double() for c in columns], 1)
    gram = a.T @ a
    gram += RIDGE * gram.diagonal().mean() * torch.eye(len(columns), dtype=gram.dtype, device=gram.device)
    return torch.linalg.solve(gram, a.T @ target.reshape(-1).double()).tolist()


def fit_steps(model, x: torch.Tensor, sigmas: torch.Tensor, targets: list[torch.Tensor], bar=None):
    """Each step's (r, weights) in turn: least squares of the teacher's next state from the solver's own."""
    run = Run("fit", model, x, sigmas, None, None, True)
    solver = FittedSolver(sigmas.tolist(), [])
    for i in run:
        run.remember(i, run.denoised(x, run.sigmas[i]))
        estimates = [d for _, d in run.history]
        r = 0.0 if run.levels[i + 1] == 0 else None  # the last step's x carries no information about 0
        fitted = least_squares(([x] if r is None else []) + estimates, targets[i + 1])
        solver.steps.append((fitted[0], fitted[1:]) if r is None else (r, fitted))
        x = solver.step(i, x, run.history)
        if bar is not None:
            bar.update(1)
    return solver


def fit_solver(model, x: torch.Tensor, base, sigmas: torch.Tensor, tune_levels: bool = False,
               desc: str = "tune sampler") -> SolverFit:
    """The fitted solver for ``model`` from the states ``x`` at sigmas[0] (noise at that level), on ``sigmas`` or,
    with ``tune_levels``, on levels first tuned for ``base`` (``tune.tune_sigmas``, on the training starts), judged
    against the deterministic ``base`` on ``sigmas`` on held-out starts (HOLDOUT of them; none of fewer than 3)."""
    from . import Sampler

    began = time.perf_counter()
    sigmas = sigmas.detach().double().cpu()
    check_tunable(sigmas, base, "tune_sampler")
    steps = len(sigmas) - 1
    # the starts, the teacher's state at every level, the solver's state and its HISTORY estimates
    check_memory(f"fitting a solver on {len(x)} starts of {tuple(x.shape[1:])}",
                 (steps + HISTORY + 5) * x.numel() * x.element_size())
    held = round(HOLDOUT * len(x)) if len(x) >= 3 else 0
    train, check = slice(0, len(x) - held), slice(len(x) - held, None)
    levels = tune_sigmas(model, x[train], base, sigmas, desc=f"{desc}: levels").sigmas if tune_levels else sigmas
    bar = progress.bar(1 + steps + 2 * REFINE_ITERATIONS + 7, desc)
    # the teacher on the levels fitted on; its end (the same first and last non-zero level) judges both
    targets = teacher_states(model, x, levels)
    bar.update(1)
    stepwise = fit_steps(model, x[train], levels, [t[train] for t in targets], bar)
    refined = refine(model, x[train], stepwise, targets[-1][train], bar=bar)
    moved = refine(model, x[train], refined, targets[-1][train], levels=True, bar=bar)
    unipc = Sampler("unipc", order=2 if steps < 10 else 3)

    def distance(sampler, part, on=sigmas):
        bar.update(1)
        if part.start == part.stop:
            return math.nan
        try:
            out = sampler(model, x[part], on.to(x.dtype), disable=True)
        except FloatingPointError:  # coefficients on which the solver diverges
            return math.inf
        return float((out - targets[-1][part]).double().square().mean().sqrt())

    # the refinement stays only where the held-out starts agree (else it fitted the training starts, not the model)
    candidates = list({id(c): c for c in (stepwise, refined, moved)}.values()) if held else [moved]
    bar.update(3 - len(candidates))  # the candidates a model without gradients never made
    own = lambda c: torch.tensor(c.sigmas, dtype=torch.float64)  # the levels refined with them
    solver, check_error = min(((c, distance(c, check, own(c))) for c in candidates), key=lambda item: item[1])
    errors = [distance(solver, train, own(solver)), distance(base, train), check_error, distance(base, check)]
    kept = not (errors[0] < errors[1] and (held == 0 or errors[2] < errors[3]))
    return SolverFit(base if kept else solver, sigmas if kept else own(solver), *errors, distance(unipc, check), kept,
                     solver is not stepwise, solver is moved and moved is not refined, time.perf_counter() - began)


# ---- presets: a fitted solver as a small JSON file -------------------------------------------

def preset_text(solver: FittedSolver, note: str = "") -> str:
    """The solver as readable JSON: its levels and, per step, r (the state's weight) and the estimates' weights."""
    return json.dumps({"kind": PRESET_KIND, "version": 1, "note": note, "sigmas": solver.sigmas,
                       "steps": [{"x": r, "denoised": w} for r, w in solver.steps]}, indent=1)


def save_preset(solver: FittedSolver, path: str, note: str = "") -> str:
    """Write the preset to ``path`` (never replacing a file: FileExistsError names it)."""
    text = preset_text(solver, note).encode()
    return write_new(path, lambda f: f.write(text))


def solver_from_preset(data) -> FittedSolver:
    """The FittedSolver a preset's parsed JSON describes; ValueError saying what is wrong in it."""
    if not isinstance(data, dict) or data.get("kind") != PRESET_KIND:
        raise ValueError(f"not a fitted-solver preset (its \"kind\" must be {PRESET_KIND!r})")
    sigmas, steps = data.get("sigmas"), data.get("steps")
    if not (isinstance(sigmas, list) and isinstance(steps, list) and len(sigmas) == len(steps) + 1 >= 2):
        raise ValueError("\"sigmas\" must list one level more than \"steps\" has steps")
    numbers = [sigmas] + [[s.get("x")] + list(s.get("denoised") or [None]) if isinstance(s, dict) else [None]
                          for s in steps]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for row in numbers for v in row):
        raise ValueError("every level and weight must be a finite number, and every step an object with \"x\" and "
                         "\"denoised\" (a list)")
    if sigmas[-1] != 0 or any(a <= b for a, b in zip(sigmas, sigmas[1:])):
        raise ValueError("\"sigmas\" must descend strictly to 0")
    too_many = [i for i, s in enumerate(steps) if len(s["denoised"]) > min(i + 1, HISTORY)]
    if too_many:
        raise ValueError(f"step {too_many[0]} weighs more estimates than exist then (at most {min(too_many[0] + 1, HISTORY)})")
    return FittedSolver(sigmas, [(s["x"], s["denoised"]) for s in steps])


def load_preset(path: str) -> FittedSolver:
    """Read a preset file; ValueError naming the file, what is wrong and how to fix it."""
    try:
        return solver_from_preset(json.loads(read_limited(path, PRESET_BYTES, "a fitted-solver preset (.json)")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e).replace(f"{path}: ", "")
        raise ValueError(f"{path}: {reason}; give a .json file that Tune Sampler saved") from None
