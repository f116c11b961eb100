"""Sampler accuracy on exact non-Gaussian and Gaussian problems, and overhead, side by side with
ComfyUI and diffusers.

    python -m noisekit.bench samplers [--mixtures | --photo | --tune | --teacher]
    NOISEKIT_COMFYUI=/path/to/ComfyUI NOISEKIT_COMFYUI_PYTHON=/path/to/its/python python -m noisekit.bench samplers

0. Gaussian mixtures (64-d, and 2-d with tight components) with exact closed-form denoisers, and
   the bundled UNet in float64 generating from noise: RMS end error against a DOP853 reference
   (converged: two tolerances compared) at 5-50 model calls on karras and exponential schedules,
   noisekit's candidates against ComfyUI's samplers (run in ComfyUI's Python when NOISEKIT_COMFYUI
   is set; else the ones noisekit reproduces step for step, with ComfyUI's last step) and diffusers'
   UniPC and DPM++ (when installed). The summary gives each side's best, the ratio with a bootstrap
   interval over the starts, the share of the error in the worst 5% of starts, and what the last
   step alone costs when taken from the exact trajectory (a floor for every sampler using it).
   The peers also run on SD1.5's AYS and GITS tables (the same sigma range). The solver fitted per
   problem (samplers/fit.py) on other starts gets its own row and its ratio to the best peer, with
   the seconds its fits took.

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
4. --photo: `noisekit denoise --mode sample` as a sampler problem: the held-out photos' 32x32 centre
   crops with white noise at 15, 25 and 50 / 255, the bundled UNet in float64 down photo/denoise.py's
   own schedule at 4, 8 and 16 steps, RMS error against a DOP853 reference; which sampler is best.
5. --tune: levels tuned per problem at 5-10 calls (samplers/tune.py, as the Tune Sigmas node does) from
   karras and from exponential, on other starts of the same problem (other pictures for the UNet); the
   start, and per NFE the sampler, chosen on the tuning's held-out starts; judged on the table's starts.
6. --teacher: what a teacher for tuning and fitting must survive on the bundled UNet: fixed-step Euler
   and Heun on ever finer geometric levels, pc_sigma o3 with 20x the steps of karras and exponential
   schedules (the teacher before samplers/ode.py), and tune.teacher_states, each against the DOP853
   reference from the same 4 pictures.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ..models.analytic import gaussian_problem, mixture, rms, start_and_exact
from ..samplers import Sampler
from ..samplers.fit import fit_solver
from ..samplers.ode import probability_flow
from ..samplers.solvers import KEEP, Run
from ..samplers.tune import teacher_states, tune_sigmas
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


# ---- non-Gaussian problems: Gaussian mixtures with exact denoisers --------------------------

MIX_NFES = (5, 8, 10, 20, 50)
SCHEDULES = ("karras", "exponential")
PEER_SCHEDULES = SCHEDULES + ("ays", "gits")  # SD1.5's published tables span the same 0.0292..14.61
# noisekit's candidates: label -> (sampler, options)
CANDIDATES = {"pc_sigma": ("pc_sigma", {}), "pc_sigma o3": ("pc_sigma", {"order": 3}),
              "pc_sigma o2": ("pc_sigma", {"order": 2}), "unipc": ("unipc", {}), "unipc o2": ("unipc", {"order": 2}),
              "dpmpp_2m": ("dpmpp_2m", {}), "ipndm": ("ipndm", {}), "lms": ("lms", {}), "heun": ("heun", {})}
# ComfyUI's samplers that noisekit's same-named ones reproduce step for step (recorded values): without a
# ComfyUI they are run as noisekit's sampler to sigma_min followed by ComfyUI's last step x = D(sigma_min)
SAME_STEPS = ("euler", "heun", "dpm_2", "lms", "ipndm", "dpmpp_2m", "res_multistep")
COMFY_PEERS = SAME_STEPS + ("ipndm_v", "deis", "uni_pc", "uni_pc_bh2")


class MixtureProblem:
    """Data x0 from a mixture, fixed unit noise; the start at sigma0 is x0 + sigma0 eps and its
    reference endpoint a DOP853 solve (cached per sigma0), checked against a 100x tighter one."""

    rtols = (1e-10, 1e-12)  # the reference's tolerance and the tighter one it is checked against
    candidates = CANDIDATES

    def __init__(self, name, model, n, seed=1):
        g = torch.Generator().manual_seed(seed)
        self.name, self.model = name, model
        self.x0 = model.sample(n, g)
        self.eps = torch.randn(self.x0.shape, generator=g, dtype=torch.float64)
        self.references = {}

    def solve(self, x, sigma0, rtol):
        return self.model.ode_solution(x, sigma0, 0.0, rtol)

    def start(self, sigma0: float):
        return self.x0 + sigma0 * self.eps

    def reference(self, sigma0: float, rtol=None):
        key = (round(sigma0, 9), rtol or self.rtols[0])
        if key not in self.references:
            self.references[key] = self.solve(self.start(sigma0), sigma0, key[1])
        return self.references[key]

    def error(self, out, sigma0: float) -> torch.Tensor:
        """Squared error per start (mean over its elements): the RMS is the root of their mean."""
        return (out - self.reference(sigma0)).square().flatten(1).mean(1)


class NoGradModel:
    """A torch module as a denoiser called without autograd (pickles to ComfyUI's process)."""

    def __init__(self, net):
        self.net = net
        self.sigma_min, self.sigma_max, self.parameterisation = net.sigma_min, net.sigma_max, net.parameterisation

    def __call__(self, x, sigma, **cond):
        with torch.no_grad():
            return self.net(x, sigma, **cond)


class UNetProblem(MixtureProblem):
    """The bundled UNet in float64 generating 16x16 pictures from noise (x = sigma0 eps); the
    reference integrates its ODE to sigma 1e-3 (DOP853), then takes D there (an O(1e-6) last step)."""

    rtols = (1e-8, 1e-10)
    candidates = {k: CANDIDATES[k] for k in ("pc_sigma", "pc_sigma o3", "unipc", "unipc o2", "dpmpp_2m", "ipndm")}

    def __init__(self, name, n, seed=1, x0=None):
        from ..models.loader import load_model

        g = torch.Generator().manual_seed(seed)
        self.name, self.model = name, NoGradModel(load_model().double().eval())
        self.eps = torch.randn((n, 3, 16, 16) if x0 is None else x0.shape, generator=g, dtype=torch.float64)
        self.x0 = torch.zeros_like(self.eps) if x0 is None else x0
        self.references = {}

    def solve(self, x, sigma0, rtol):
        end = probability_flow(self.model, x, sigma0, 1e-3, rtol)
        return self.model(end, end.new_full((len(end),), 1e-3))


def mixture_problems():
    """Enough starts that a few of them crossing to another mode (which dominates the error at 5-10
    calls) do not decide a comparison alone; the bootstrap interval in the summary says how far."""
    return [MixtureProblem("64-d mixture (10 components, std 0.05..0.5)", mixture(64, 10, (0.05, 0.5)), 256),
            MixtureProblem("2-d tight mixture (8 components, std 0.01..0.03)", mixture(2, 8, (0.01, 0.03), seed=1),
                           1024),
            UNetProblem("bundled UNet, 8x3x16x16 from noise", 8)]


# ---- photo/denoise.py's "sample" mode: the bundled UNet from a noisy photo down to 0 ------------

PHOTO_LEVELS = (15, 25, 50)  # white noise std on the 0..255 scale
PHOTO_STEPS = (4, 8, 16)
PHOTO_SAMPLERS = {k: CANDIDATES[k] for k in ("dpmpp_2m", "pc_sigma", "pc_sigma o3", "unipc", "ipndm", "lms")}


def photo_problem(size: int = 32):
    """The held-out photos' centre crops in model space, in float64; the start at sigma is crop + sigma eps."""
    from ..models.space import image_to_model
    from ..training.photos import HELDOUT, WALLPAPERS, fetch_wallpapers, load_photo
    from .denoise import centre_crop

    crops = np.stack([centre_crop(load_photo(name, fetch_wallpapers(WALLPAPERS)), size) for name in HELDOUT])
    x0 = image_to_model(torch.from_numpy(crops).double() / 255)
    return UNetProblem(f"held-out photos, {len(crops)}x3x{size}x{size}", len(crops), x0=x0)


def photo_error(problem, sampler, level: int, steps: int) -> float:
    """RMS end error of photo/denoise.denoise_state's sample mode (a karras schedule from the noise level to
    the model's sigma_min, then 0) from the crops with white noise of std ``level`` / 255."""
    from ..photo.denoise import denoise_state
    from ..models.space import photo_to_model_sigma

    sigma = photo_to_model_sigma(level / 255)
    return root_mean(problem.error(denoise_state(problem.model, problem.start(sigma), sigma, "sample", steps, sampler),
                                   sigma))


def print_photo_table(problem):
    """RMS end error of `noisekit denoise --mode sample` per sampler, noise level and step count."""
    print(f"\n## photo denoise, mode sample: {problem.name}, the bundled UNet in fp64; RMS error vs a DOP853 "
          f"reference (the last line: rtol {problem.rtols[0]:.0e} vs {problem.rtols[1]:.0e})")
    columns = [(level, steps) for level in PHOTO_LEVELS for steps in PHOTO_STEPS]
    print(f"{'sampler':<14}" + "".join(f"{f'{level}/255, {steps} st':>15}" for level, steps in columns))
    rows = {}
    for label, (name, options) in PHOTO_SAMPLERS.items():
        rows[label] = [photo_error(problem, Sampler(name, **options), level, steps) for level, steps in columns]
        print(f"{label:<14}" + "".join(f"{e:>15.2e}" for e in rows[label]), flush=True)
    print(f"{'best':<14}" + "".join(f"{min(rows, key=lambda k: rows[k][j]):>15}" for j in range(len(columns))))
    from ..models.space import photo_to_model_sigma

    sigmas = [photo_to_model_sigma(level / 255) for level, _ in columns]
    print(f"{'(reference)':<14}" + "".join(f"{rms(problem.reference(s), problem.reference(s, problem.rtols[1])):>15.1e}"
                                           for s in sigmas))


# ---- levels tuned per problem (samplers/tune.py) on starts the table never sees --------------------

TUNE_NFES = (5, 8, 10)
TUNE_SAMPLERS = ("pc_sigma o3", "unipc o2")  # the candidates that lead the table at 5-10 calls
TUNE_PICTURES = 32  # the UNet's training pictures: with 8 the levels fitted those pictures, not the model


def tuning_starts(problem) -> tuple:
    """(model, starts at SIGMA_MAX) of the same problem, other seeds (2): 4x as many starts of a mixture;
    TUNE_PICTURES other pictures of the UNet, in float32 as a user tunes (the judging stays in float64)."""
    if isinstance(problem, UNetProblem):
        twin = UNetProblem(problem.name, TUNE_PICTURES, seed=2)
        twin.model.net.float()
        return twin.model, twin.start(SIGMA_MAX).float()
    twin = MixtureProblem(problem.name, problem.model, 4 * len(problem.eps), seed=2)
    return twin.model, twin.start(SIGMA_MAX)


def end_error(problem, sampler, sigmas: torch.Tensor) -> float:
    """RMS end error of ``sampler`` from ``problem``'s starts at SIGMA_MAX down ``sigmas``."""
    return root_mean(problem.error(sampler(problem.model, problem.start(SIGMA_MAX), sigmas, disable=True), SIGMA_MAX))


def print_tuned_table(problems):
    """Per problem, sampler and NFE: levels tuned (samplers/tune.py) from karras and from exponential on other
    starts of the same problem, the start whose tuning did better on the tuning's held-out starts, judged on the
    table's starts beside the sampler on karras and exponential; then per NFE the (sampler, start) with the
    least held-out error. Every choice is made on the tuning starts: the judged ones pick nothing."""
    for problem in problems:
        model, starts = tuning_starts(problem)
        print(f"\n## {problem.name}: levels tuned on {len(starts)} other starts, judged on the table's "
              f"{len(problem.eps)}; RMS end error (check: the tuning's held-out starts, against its teacher)")
        print(f"{'sampler':<13}{'NFE':<5}{'karras':>10}{'exponential':>13}{'from':>13}{'check':>22}{'tuned':>10}"
              f"{'s':>6}   levels")
        chosen = {}
        for label, nfe in [(label, nfe) for label in TUNE_SAMPLERS for nfe in TUNE_NFES]:
            sampler = Sampler(CANDIDATES[label][0], **CANDIDATES[label][1])
            began = time.perf_counter()
            tunings = {schedule: tune_sigmas(model, starts, sampler, sigmas_for(schedule, nfe)) for schedule in SCHEDULES}
            seconds = time.perf_counter() - began
            schedule, tuning = min(tunings.items(), key=lambda item: item[1].check_error)
            judged = end_error(problem, sampler, tuning.sigmas)
            if tuning.check_error < chosen.get(nfe, (math.inf,))[0]:
                chosen[nfe] = (tuning.check_error, judged, label, schedule)
            print(f"{label:<13}{nfe:<5}{end_error(problem, sampler, sigmas_for('karras', nfe)):>10.2e}"
                  f"{end_error(problem, sampler, sigmas_for('exponential', nfe)):>13.2e}{schedule:>13}"
                  f"{f'{tuning.check_start_error:.2e} -> {tuning.check_error:.2e}':>22}{judged:>10.2e}{seconds:>6.0f}   "
                  + ("(given levels kept)" if tuning.kept else " ".join(f"{v:.3g}" for v in tuning.sigmas.tolist())),
                  flush=True)
        print("chosen by the check: " + "; ".join(f"{nfe} calls {judged:.2e} ({label}, from {schedule})"
                                                  for nfe, (_, judged, label, schedule) in sorted(chosen.items())))


def sigmas_for(schedule, nfe, two_calls=False):
    steps = (nfe + 1) // 2 if two_calls else nfe
    if schedule in ("ays", "gits"):  # SD1.5's tables: their own levels
        return get_sigmas(schedule, steps).double()
    return get_sigmas(schedule, steps, sigma_min=SIGMA_MIN, sigma_max=SIGMA_MAX)


# ---- the solver fitted per problem (samplers/fit.py) on starts the table never judges ------------

FIT_NFES = (5, 8, 10, 20)  # up to tune.MAX_STEPS steps; from 50 calls the row is the untuned base's
FIT_MIXTURE_STARTS = 1024
FIT_PICTURES = 32  # the UNet's: with 8 (2 held out) the held-out check chose by noise, as TUNE_PICTURES found
# Levels tuned before the fit (tune_sigmas, 80 runs per step) on the mixtures; on the UNet that alone would pass
# the 10 minutes on 2 cores, so there the solver is fitted on the schedule's own levels


def fit_base(nfe: int):
    """The untuned sampler a fit compares with and falls back to: the best untuned one below 10 calls, and from 10."""
    return Sampler("unipc", order=2) if nfe < 10 else Sampler("pc_sigma", order=3)


def fitted_errors(problem):
    """({nfe: squared error per judged start} of the solver fitted on other starts of the problem (seed 2), from the
    levels (karras or exponential, as given or, on the mixtures, tuned first) whose fit did better on its held-out
    starts; {nfe: (levels, seconds of all the fits, kept)})."""
    tune_levels = (False,) if isinstance(problem, UNetProblem) else (False, True)
    if isinstance(problem, UNetProblem):
        twin = UNetProblem(problem.name, FIT_PICTURES, seed=2)
        model, starts = twin.model.net.float(), twin.start(SIGMA_MAX).float()  # the net itself: fit.refine's gradients
    else:
        model = problem.model
        starts = MixtureProblem(problem.name, model, FIT_MIXTURE_STARTS, seed=2).start(SIGMA_MAX)
    row, notes = {}, {}
    for nfe in MIX_NFES:
        base = fit_base(nfe)
        if nfe not in FIT_NFES:
            row[nfe] = problem.error(base(problem.model, problem.start(SIGMA_MAX), sigmas_for("karras", nfe),
                                          disable=True), SIGMA_MAX)
            continue
        began = time.perf_counter()
        fits = {(schedule, tuned): fit_solver(model, starts, base, sigmas_for(schedule, nfe), tuned, f"fit {nfe}")
                for schedule in SCHEDULES for tuned in tune_levels}
        # each fit's held-out error is that of the sampler it returns: the base's where the base was kept
        (schedule, tuned), fit = min(fits.items(), key=lambda item: item[1].check_base_error if item[1].kept
                                     else item[1].check_error)
        schedule += ((", levels tuned" if tuned else ", given levels") + (", refined jointly" if fit.refined else "")
                     + (", levels too" if fit.levels_refined else ""))
        notes[nfe] = (schedule, time.perf_counter() - began, fit.kept)
        row[nfe] = problem.error(fit.sampler(problem.model, problem.start(SIGMA_MAX), fit.sigmas, disable=True),
                                 SIGMA_MAX)
    return row, notes


def print_fitted_summary(row, notes, peer_rows):
    """Per NFE: the fitted solver's RMS end error, its ratio to the best untuned peer with the bootstrap interval."""
    print("fitted solver (samplers/fit.py, fitted on other starts; its levels and base chosen on its held-out starts):")
    for n in MIX_NFES:
        peer = min(peer_rows.items(), key=lambda kv: root_mean(kv[1][n]))
        lo, hi = best_ratio_interval([row[n]], [r[n] for r in peer_rows.values()])
        schedule, seconds, kept = notes.get(n, ("karras", math.nan, True))
        how = (f"{schedule}, fits {seconds:.0f} s" + (", untuned base kept" if kept else "") if n in notes
               else "no fit beyond 24 steps: untuned base")
        print(f"  {n:<4} {root_mean(row[n]):.2e}  ratio to {' '.join(peer[0])} {root_mean(row[n]) / root_mean(peer[1][n]):.2f}"
              f" ({lo:.2f}-{hi:.2f})  {how} (base {fit_base(n).name} {fit_base(n).options.get('order')})", flush=True)


def noisekit_errors(problem):
    """{(label, schedule): {nfe: squared error per start}} of noisekit's candidates."""
    out = {}
    for label, (name, options) in problem.candidates.items():
        for schedule in SCHEDULES:
            row = out[label, schedule] = {}
            for nfe in MIX_NFES:
                sigmas = sigmas_for(schedule, nfe, name in TWO_CALLS)
                x = problem.start(float(sigmas[0]))
                row[nfe] = problem.error(Sampler(name, **options)(problem.model, x, sigmas, disable=True),
                                         float(sigmas[0]))
    return out


def comfyui_errors(problems):
    """{(problem name, label, schedule): {nfe: squared error per start}} of ComfyUI's samplers, run by
    bench/comfyui_reference.py in ComfyUI's own Python (NOISEKIT_COMFYUI, NOISEKIT_COMFYUI_PYTHON);
    None when no ComfyUI is given."""
    root, python = os.environ.get("NOISEKIT_COMFYUI"), os.environ.get("NOISEKIT_COMFYUI_PYTHON", sys.executable)
    if not root:
        return None
    runs = [(p.name, label, schedule, nfe) for p in problems for label in COMFY_PEERS for schedule in PEER_SCHEDULES
            for nfe in MIX_NFES]
    job = {"models": {p.name: p.model for p in problems},
           "starts": {p.name: p.start(SIGMA_MAX) for p in problems},
           "runs": [(name, label, sigmas_for(schedule, nfe, label in TWO_CALLS)) for name, label, schedule, nfe in runs]}
    with tempfile.TemporaryDirectory() as tmp:
        request = Path(tmp) / "job.pt"
        torch.save(job, request)
        subprocess.run([python, str(Path(__file__).with_name("comfyui_reference.py")), root, "--peers", str(request)],
                       check=True)
        ends = torch.load(request.with_suffix(".out.pt"), weights_only=False)
    by_name = {p.name: p for p in problems}
    out = {}
    for (name, label, schedule, nfe), end in zip(runs, ends):
        out.setdefault((name, label, schedule), {})[nfe] = by_name[name].error(end, SIGMA_MAX)
    return out


def same_step_errors(problem):
    """ComfyUI's SAME_STEPS samplers without ComfyUI: noisekit's to sigma_min, then x = D(sigma_min)."""
    out = {}
    for label in SAME_STEPS:
        for schedule in PEER_SCHEDULES:
            row = out[problem.name, label, schedule] = {}
            for nfe in MIX_NFES:
                sigmas = sigmas_for(schedule, nfe, label in TWO_CALLS)
                x = Sampler(label)(problem.model, problem.start(SIGMA_MAX), sigmas[:-1], disable=True)
                x = problem.model(x, sigmas[-2:-1])
                row[nfe] = problem.error(x, SIGMA_MAX)
    return out


def diffusers_errors(problem):
    """{(label, schedule): {nfe: squared error per start}} of diffusers' UniPC and DPM++ multistep schedulers."""
    out = {}
    for cls_name in ("UniPCMultistepScheduler", "DPMSolverMultistepScheduler"):
        for schedule in SCHEDULES:
            row = out[f"diffusers {cls_name}", schedule] = {}
            for nfe in MIX_NFES:
                row[nfe] = diffusers_run(cls_name, schedule, nfe, problem)
    return out


def print_mixture_tables(problems):
    peers = comfyui_errors(problems)
    source = "ComfyUI (NOISEKIT_COMFYUI)" if peers is not None else "ComfyUI-equivalent (noisekit steps + D(sigma_min))"
    try:
        import diffusers  # noqa: F401
        have_diffusers = True
    except ImportError:
        have_diffusers = False
    for problem in problems:
        print(f"\n## {problem.name}: RMS error vs a DOP853 reference (fp64, sigma {SIGMA_MIN}..{SIGMA_MAX} then 0)")
        loose, tight = problem.rtols
        print(f"reference converged: rtol {loose:.0e} vs {tight:.0e} differ by "
              f"{rms(problem.reference(SIGMA_MAX), problem.reference(SIGMA_MAX, tight)):.1e} RMS")
        rows = {(f"noisekit {label}", schedule): row for (label, schedule), row in noisekit_errors(problem).items()}
        theirs = {k: v for k, v in (peers or same_step_errors(problem)).items() if k[0] == problem.name}
        peer_rows = {(f"ComfyUI {label}", schedule): row for (_, label, schedule), row in theirs.items()}
        if have_diffusers:
            peer_rows.update(diffusers_errors(problem))
        print(f"peers: {source}" + (", diffusers" if have_diffusers else " (diffusers not installed)"))
        print(f"{'sampler':<40}{'schedule':<13}" + "".join(f"{'NFE ' + str(n):>10}" for n in MIX_NFES))
        for (label, schedule), row in {**rows, **peer_rows}.items():
            print(f"{label:<40}{schedule:<13}" + "".join(f"{root_mean(row[n]):>10.2e}" for n in MIX_NFES))
        fitted, notes = fitted_errors(problem)
        rows["noisekit fitted", "fit"] = fitted
        print(f"{'noisekit fitted':<40}{'fit':<13}" + "".join(f"{root_mean(fitted[n]):>10.2e}" for n in MIX_NFES))
        print_summary(rows, peer_rows, len(problem.eps))
        print_fitted_summary(fitted, notes, peer_rows)
        for schedule in SCHEDULES:
            print(f"the last step alone, {schedule}: " + ", ".join(
                f"{nfe} calls: ComfyUI's jump {jump:.2e}, noisekit's {ours:.2e}"
                for nfe, (jump, ours) in ((n, last_step_floors(problem, schedule, n)) for n in FLOOR_NFES)))


FLOOR_NFES = (20, 50)
TEACHER_STEPS = (50, 100, 200, 400, 800, 1600)


def print_teacher_check(pictures: int = 4):
    """RMS distance to the DOP853 reference of fixed-step solvers on ever finer levels and of the teachers."""
    problem = UNetProblem("bundled UNet", pictures, seed=2)
    x, reference = problem.start(SIGMA_MAX), problem.reference(SIGMA_MAX)
    at_floor = probability_flow(problem.model, x, SIGMA_MAX, SIGMA_MIN, problem.rtols[0])
    floor_end = problem.model(at_floor, at_floor.new_full((pictures,), SIGMA_MIN))
    print(f"# teachers on the bundled UNet ({pictures} pictures of 3x16x16 from noise, fp64): RMS distance to the "
          f"DOP853 reference (ODE to sigma 1e-3, then D); the exact ODE down to {SIGMA_MIN} then D: "
          f"{rms(floor_end, reference):.2e}")
    for name in ("euler", "heun"):
        ends = [Sampler(name)(problem.model, x, get_sigmas("exponential", n, sigma_min=SIGMA_MIN, sigma_max=SIGMA_MAX),
                              disable=True) for n in TEACHER_STEPS]
        print(f"{name} on n geometric steps: " + ", ".join(f"{n} {rms(end, reference):.2e}"
                                                             for n, end in zip(TEACHER_STEPS, ends)), flush=True)
    for schedule, nfe in ((s, n) for s in SCHEDULES for n in (10, 20)):
        levels = sigmas_for(schedule, nfe).tolist()
        fine = [a * (b / a) ** (k / 20) for a, b in zip(levels[:-2], levels[1:-1]) for k in range(20)] + levels[-2:]
        old = Sampler("pc_sigma", order=3)(problem.model, x, torch.tensor(fine, dtype=x.dtype), disable=True)
        began = time.perf_counter()
        new = teacher_states(problem.model, x, sigmas_for(schedule, nfe))[-1]
        print(f"{schedule} {nfe} steps: pc_sigma o3 with 20x the steps {rms(old, reference):.2e}; "
              f"tune.teacher_states {rms(new, reference):.2e} ({time.perf_counter() - began:.0f} s)", flush=True)


def last_step_floors(problem, schedule: str, nfe: int) -> tuple[float, float]:
    """RMS end error of the last step to sigma = 0 taken from the exact trajectory: x solved tightly
    through the schedule's last KEEP levels, the model's D there, then ComfyUI's jump x = D(sigma_min)
    and noisekit's ``Run.denoised_at_zero``. What the last step costs whatever the integrator before it."""
    sigmas = sigmas_for(schedule, nfe)
    x, at = problem.start(SIGMA_MAX), SIGMA_MAX
    run = Run("last step", problem.model, x, sigmas, None, None, True)
    for i in range(len(sigmas) - 1 - KEEP, len(sigmas) - 1):
        x, at = probability_flow(problem.model, x, at, float(sigmas[i]), problem.rtols[0]), float(sigmas[i])
        run.remember(i, problem.model(x, x.new_full((len(x),), at)))
    jump = run.history[0][1]
    return tuple(root_mean(problem.error(end, SIGMA_MAX)) for end in (jump, run.denoised_at_zero()))


def root_mean(squared: torch.Tensor) -> float:
    return float(squared.mean().sqrt())


def best_ratio_interval(ours: list, theirs: list, draws: int = 2000, seed: int = 0) -> tuple[float, float]:
    """5th and 95th percentiles of (best of ours' RMS) / (best of theirs' RMS) over the starts resampled with
    replacement (a paired bootstrap: both sides see the same draw), the best re-chosen in every draw, so the
    interval also counts the luck of picking the best of many candidates on one sample of starts."""
    n = len(ours[0])
    picks = torch.randint(n, (draws, n), generator=torch.Generator().manual_seed(seed))
    counts = torch.zeros(draws, n, dtype=torch.float64).scatter_add_(1, picks, torch.ones(draws, n, dtype=torch.float64))
    best = [(torch.stack(side) @ counts.T).min(0).values for side in (ours, theirs)]  # [draws] each, sums of squares
    lo, hi = torch.quantile((best[0] / best[1]).sqrt(), torch.tensor([0.05, 0.95], dtype=torch.float64)).tolist()
    return lo, hi


def tail_share(squared: torch.Tensor, fraction: float = 0.05) -> float:
    """The share of the squared error carried by the worst ``fraction`` of the starts."""
    worst = squared.sort(descending=True).values[:max(1, round(fraction * len(squared)))]
    return float(worst.sum() / squared.sum().clamp(min=1e-300))


def print_summary(rows: dict, peer_rows: dict, starts: int):
    """Per NFE: each side's best (sampler, schedule), the ratio, its bootstrap interval over the starts,
    and how much of each best's squared error its worst 5% of starts carry."""
    print(f"{'NFE':<6}{'noisekit best':<46}{'best peer':<58}{'ratio':>6}{'90% interval':>15}"
          f"{'worst 5% share':>18}   ({starts} starts)")
    for n in MIX_NFES:
        ours = min(rows.items(), key=lambda kv: root_mean(kv[1][n]))
        peer = min(peer_rows.items(), key=lambda kv: root_mean(kv[1][n]))
        lo, hi = best_ratio_interval([r[n] for r in rows.values()], [r[n] for r in peer_rows.values()])
        a, b = root_mean(ours[1][n]), root_mean(peer[1][n])
        print(f"{n:<6}{' '.join(ours[0]) + f' {a:.2e}':<46}{' '.join(peer[0]) + f' {b:.2e}':<58}{a / b:>6.2f}"
              f"{f'{lo:.2f}-{hi:.2f}':>15}{f'{tail_share(ours[1][n]):.2f} / {tail_share(peer[1][n]):.2f}':>18}")


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


def diffusers_loop(sch, cls_name, model, x_ve, sigmas):
    """Drive a diffusers scheduler with an x0 model from the VE state x_ve at sigmas[0]."""
    ve_state = cls_name == "EulerDiscreteScheduler"  # Euler keeps x = x0 + sigma eps; the others the VP state
    x = x_ve if ve_state else x_ve / math.sqrt(1 + float(sigmas[0]) ** 2)
    s_in = x.new_ones([x.shape[0]])
    for i, t in enumerate(sch.timesteps):
        sigma = sigmas[i]
        x_now = x if ve_state else x * (1 + sigma**2).sqrt()
        sch.scale_model_input(x, t)  # (the scaling itself is done above; the call sets the scheduler's state)
        eps_hat = (x_now - model(x_now, sigma * s_in)) / sigma
        x = sch.step(eps_hat, t, x).prev_sample
    return x


def diffusers_run(cls_name, schedule, steps, problem):
    """A diffusers scheduler's squared error per start on a mixture problem (started at its own first sigma)."""
    sch = make_scheduler(cls_name, schedule, steps)
    sigmas = scheduler_sigmas(sch)
    sigma0 = float(sigmas[0])
    return problem.error(diffusers_loop(sch, cls_name, problem.model, problem.start(sigma0), sigmas), sigma0)


def run_diffusers(cls_name: str, schedule: str, steps: int, model, eps):
    """(diffusers error, noisekit error on the same sigmas, model calls) on the Gaussian problem."""
    sch = make_scheduler(cls_name, schedule, steps)
    sigmas = scheduler_sigmas(sch)
    x_ve, exact = start_and_exact(model, eps, float(sigmas[0]))
    x = diffusers_loop(sch, cls_name, model, x_ve, sigmas)
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
    """All sections but the photo and tuning ones; ``--mixtures`` only the non-Gaussian problems; ``--photo``
    only photo/denoise.py's sample mode; ``--tune`` only the levels tuned per problem."""
    torch.set_num_threads(2)
    if "--photo" in argv:
        return print_photo_table(photo_problem())
    if "--tune" in argv:
        return print_tuned_table(mixture_problems())
    if "--teacher" in argv:
        return print_teacher_check()
    print("# Sampler accuracy on Gaussian mixtures (exact denoisers, not linear in x); peers in the same run")
    print_mixture_tables(mixture_problems())
    if "--mixtures" in argv:
        return
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
