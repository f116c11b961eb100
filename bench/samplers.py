"""Sampler accuracy and overhead on the exact Gaussian problem, side by side with diffusers.

    python -m noisekit.bench samplers

1. Error vs NFE: data x0 ~ N(m, diag s^2) of shape 4x64x64 in float64, s log-uniform in
   [0.1, 1.5]; start x(sigma_0) = m + sqrt(s^2 + sigma_0^2) eps, whose exact probability-flow
   ODE endpoint is m + s eps; error = RMS of (sample - endpoint) in data units. Schedules:
   karras (rho 7) and exponential over SD's sigma range 0.0292..14.61, then 0. Two-call
   samplers (heun, dpm_2) get (NFE + 1) // 2 steps. Orders: log-log slope over NFE 20..100.
2. diffusers' DDIM, Euler, DPMSolverMultistep and UniPC schedulers (SD1.5 betas, eps
   prediction, their karras/exponential options) driven by the same analytic model, and
   noisekit's counterpart on exactly the scheduler's sigmas.
3. Per-step overhead with a zero-cost model (a constant output) at 1x4x128x128 and
   1x3x512x512, float32: noisekit, a plain k-diffusion-style loop, and diffusers' step loop.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from ..models.analytic import gaussian_problem, rms, start_and_exact
from ..samplers import Sampler
from ..schedules import get_sigmas

NFES = (5, 10, 20, 50, 100)
ROUNDS = 12  # timing rounds per loop: the best one counts (the machine may be busy)
SIGMA_MIN, SIGMA_MAX = 0.0291675, 14.614642
ODE = ("euler", "heun", "dpm_2", "lms", "ipndm_v", "dpmpp_2m", "unipc", "dpmpp_3m_sde", "pc_sigma o3", "pc_sigma")
VARIANTS = {"dpmpp_3m_sde": ("dpmpp_3m_sde", {"eta": 0.0}), "pc_sigma o3": ("pc_sigma", {"order": 3})}  # label: run
TWO_CALLS = ("heun", "dpm_2")
DIFFUSERS = {"DDIMScheduler": "ddim", "EulerDiscreteScheduler": "euler",
             "DPMSolverMultistepScheduler": "dpmpp_2m", "UniPCMultistepScheduler": "unipc"}
RATIOS = [(f"noisekit {name}", ref) for name, refs in (
    ("euler", ("k-diffusion-style euler loop", "diffusers EulerDiscreteScheduler")),
    ("dpmpp_2m", ("k-diffusion-style dpmpp_2m loop", "diffusers DPMSolverMultistepScheduler"))) for ref in refs]
SD_BETAS = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")


def slope(nfes, errors) -> float:
    keep = [i for i, n in enumerate(nfes) if n >= 20]
    return -np.polyfit(np.log([nfes[i] for i in keep]), np.log([errors[i] for i in keep]), 1)[0]


def error_vs_nfe(schedule: str, model, eps):
    rows = {}
    for label in ODE:
        name, options = VARIANTS.get(label, (label, {}))
        errors, nfes = [], []
        for nfe in NFES:
            steps = (nfe + 1) // 2 if name in TWO_CALLS else nfe
            sigmas = get_sigmas(schedule, steps, sigma_min=SIGMA_MIN, sigma_max=SIGMA_MAX)
            x, exact = start_and_exact(model, eps, float(sigmas[0]))
            model.calls = 0
            errors.append(rms(Sampler(name, **options)(model, x, sigmas, disable=True), exact))
            nfes.append(model.calls)
        rows[label] = (errors, nfes)
    return rows


def make_scheduler(cls_name: str, schedule: str, steps: int):
    import diffusers

    kwargs = {} if cls_name == "DDIMScheduler" else {f"use_{schedule}_sigmas": True}
    sch = getattr(diffusers, cls_name)(prediction_type="epsilon", **SD_BETAS, **kwargs)
    sch.set_timesteps(steps)
    return sch


def scheduler_sigmas(sch) -> torch.Tensor:
    """The VE sigmas a diffusers scheduler steps through, ending in 0."""
    if hasattr(sch, "sigmas"):
        return sch.sigmas.double()
    ac = sch.alphas_cumprod.double()
    return torch.cat([((1 - ac[sch.timesteps]) / ac[sch.timesteps]).sqrt(), torch.zeros(1, dtype=torch.float64)])


def run_diffusers(cls_name: str, schedule: str, steps: int, model, eps):
    """(diffusers error, noisekit error on the same sigmas, model calls) on the Gaussian problem."""
    sch = make_scheduler(cls_name, schedule, steps)
    sigmas = scheduler_sigmas(sch)
    x_ve, exact = start_and_exact(model, eps, float(sigmas[0]))
    ve_state = cls_name == "EulerDiscreteScheduler"  # Euler keeps x = x0 + sigma eps; the others the VP state
    x = x_ve if ve_state else x_ve / math.sqrt(1 + float(sigmas[0]) ** 2)
    for i, t in enumerate(sch.timesteps):
        sigma = sigmas[i]
        x_now = x if ve_state else x * (1 + sigma**2).sqrt()
        sch.scale_model_input(x, t)  # (the scaling itself is done above; the call sets the scheduler's state)
        eps_hat = (x_now - model(x_now, sigma.reshape(1))) / sigma
        x = sch.step(eps_hat, t, x).prev_sample
    ours = Sampler(DIFFUSERS[cls_name])(model, x_ve, sigmas, disable=True)
    return rms(x, exact), rms(ours, exact), len(sch.timesteps)


# ---- overhead ------------------------------------------------------------------------

def kdiffusion_euler(model, x, sigmas):
    """Reference: the plain k-diffusion-style Euler loop."""
    s_in = x.new_ones([x.shape[0]])
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        x = x + (x - denoised) / sigmas[i] * (sigmas[i + 1] - sigmas[i])
    return x


def kdiffusion_dpmpp_2m(model, x, sigmas):
    """Reference: the plain k-diffusion-style DPM-Solver++(2M) loop (tensor coefficients)."""
    s_in, old, h_last = x.new_ones([x.shape[0]]), None, None
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        t, t_next = -sigmas[i].log(), -sigmas[i + 1].log()
        h = t_next - t
        if old is None or sigmas[i + 1] == 0:
            x = (sigmas[i + 1] / sigmas[i]) * x - (-h).expm1() * denoised
        else:
            r = h_last / h
            x = (sigmas[i + 1] / sigmas[i]) * x - (-h).expm1() * ((1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old)
        old, h_last = denoised, h
    return x


def best_ms_per_step(loops: dict, steps: int, rounds=ROUNDS) -> dict:
    """Best time per step of each loop, the loops interleaved round by round (fair on a busy machine)."""
    best = {name: math.inf for name in loops}
    for _ in range(rounds + 1):  # the first round warms up
        for name, run in loops.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start) if _ else best[name]
    return {name: t / steps * 1e3 for name, t in best.items()}


def overhead(shape, steps=20):
    x = torch.randn(shape)
    out = torch.randn(shape)
    zero_cost = lambda x, sigma, **kw: out  # noqa: E731
    sigmas = get_sigmas("karras", steps - 1, sigma_min=SIGMA_MIN, sigma_max=SIGMA_MAX).float()
    sigmas = torch.cat([sigmas[:-1], sigmas.new_tensor([SIGMA_MIN * 0.5])])  # all steps are regular steps
    loops = {f"noisekit {name}": (lambda s=Sampler(name): s(zero_cost, x, sigmas, disable=True))
             for name in ("euler", "dpmpp_2m", "ddim", "unipc")}
    loops["k-diffusion-style euler loop"] = lambda: kdiffusion_euler(zero_cost, x, sigmas)
    loops["k-diffusion-style dpmpp_2m loop"] = lambda: kdiffusion_dpmpp_2m(zero_cost, x, sigmas)
    try:
        import diffusers  # noqa: F401
    except ImportError:
        return best_ms_per_step(loops, steps)
    for cls_name in DIFFUSERS:
        sch = make_scheduler(cls_name, "karras", steps)

        def loop(sch=sch):
            sch.set_timesteps(steps)  # resets the step index and the multistep history
            y = x
            for t in sch.timesteps:
                sch.scale_model_input(y, t)
                y = sch.step(out, t, y).prev_sample
        loops[f"diffusers {cls_name}"] = loop
    return best_ms_per_step(loops, steps)


def main(argv=()):
    torch.set_num_threads(2)
    model, eps = gaussian_problem()
    print("# Sampler accuracy on the exact Gaussian problem (4x64x64 fp64, data std log-uniform 0.1..1.5,")
    print(f"# sigma {SIGMA_MIN}..{SIGMA_MAX} then 0; RMS error vs the exact ODE endpoint)")
    for schedule in ("karras", "exponential"):
        print(f"\n## noisekit, {schedule} schedule")
        print(f"{'sampler':<14}" + "".join(f"{'NFE ' + str(n):>10}" for n in NFES) + f"{'order':>8}")
        for name, (errors, nfes) in error_vs_nfe(schedule, model, eps).items():
            print(f"{name:<14}" + "".join(f"{e:>10.2e}" for e in errors) + f"{slope(nfes, errors):>8.2f}")
    try:
        import diffusers
    except ImportError:
        print("\n!! diffusers is not installed: the side-by-side tables are skipped "
              "(pip install diffusers, or the project's bench extra)")
    else:
        print(f"\n## diffusers {diffusers.__version__} schedulers vs noisekit on the scheduler's own sigmas "
              "(same model, same start; DDIM uses its own timestep spacing)")
        print(f"{'scheduler':<30}{'schedule':<13}" + "".join(f"{'NFE ' + str(n):>10}" for n in NFES) + f"{'order':>8}")
        for cls_name in DIFFUSERS:
            for schedule in (("own",) if cls_name == "DDIMScheduler" else ("karras", "exponential")):
                runs = [run_diffusers(cls_name, schedule, n, model, eps) for n in NFES]
                theirs, ours, nfes = zip(*runs)
                print(f"{cls_name:<30}{schedule:<13}" + "".join(f"{e:>10.2e}" for e in theirs)
                      + f"{slope(nfes, theirs):>8.2f}")
                label = f"  noisekit {DIFFUSERS[cls_name]}"
                print(f"{label:<30}{'same sigmas':<13}" + "".join(f"{e:>10.2e}" for e in ours)
                      + f"{slope(nfes, ours):>8.2f}")
    for shape in ((1, 4, 128, 128), (1, 3, 512, 512)):
        size = "x".join(map(str, shape))
        print(f"\n## Per-step overhead, zero-cost model, {size} float32 (ms/step, best of {ROUNDS} rounds)")
        ms = overhead(shape)
        for name, t in ms.items():
            print(f"{name:<44}{t:>8.3f}")
        for ours, theirs in RATIOS:
            if theirs in ms:
                print(f"{'ratio ' + ours + ' / ' + theirs:<72}{ms[ours] / ms[theirs]:>6.2f}")
