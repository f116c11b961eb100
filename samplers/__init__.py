"""Samplers (k-diffusion signature), seeded noise, forward noise and sampling.

``SAMPLERS``: name -> solver function, with its options declared as Params.
``Sampler(name, **options)``: the SAMPLER value outside ComfyUI.
``sample(model, sigmas, sampler, seed, ...)``: noise, (masked) sampling, result.
"""
from __future__ import annotations

from ..registry import Param, Registry
from . import solvers
from .denoiser import Denoiser, noise_form, signal_scale
from .forward import add_noise
from .noise import BrownianTreeNoiseSampler, NoiseSampler, unit_noise
from .repaint import repaint_sampler, sample_annealed_mean
from .sample import MaskedDenoiser, sample

SAMPLERS = Registry("sampler")


class Sampler:
    """A registered solver with bound, validated options, callable with the k-diffusion signature."""

    def __init__(self, name: str, **options):
        self.entry = SAMPLERS.get(name)
        self.name, self.options = name, self.entry.bind(**options)

    def __call__(self, model, x, sigmas, extra_args=None, callback=None, disable=None, **overrides):
        return self.entry.fn(model, x, sigmas, extra_args, callback, disable, **{**self.options, **overrides})

    def __repr__(self):
        return f"Sampler({self.name!r}, {self.options})"


ETA = Param("eta", "FLOAT", 1.0, 0.0, 1.0, 0.01, tooltip="Stochasticity: 0 = deterministic, 1 = full ancestral noise.")
S_NOISE = Param("s_noise", "FLOAT", 1.0, 0.0, 2.0, 0.001, tooltip="Scale of the fresh noise added per step.")
BROWNIAN = Param("brownian", "BOOLEAN", True,
                 tooltip="Brownian-tree noise: results converge as steps grow (off: independent noise per step).")
ADAMS_ORDER = Param("order", "INT", 4, 1, 4, 1, tooltip="Adams-Bashforth order: how many past derivatives are used.")
JUMP_LENGTH = Param("jump_length", "INT", 10, 1, 100, 1, tooltip="RePaint: steps per jump before re-noising.")
JUMP_N_SAMPLE = Param("jump_n_sample", "INT", 2, 1, 20, 1, tooltip="RePaint: how many times each jump is sampled.")

SAMPLERS.register("euler", (
    Param("s_churn", "FLOAT", 0.0, 0.0, 100.0, 0.01, tooltip="Karras churn: noise re-added per step (0 = ODE)."),
    Param("s_tmin", "FLOAT", 0.0, 0.0, 1000.0, 0.001, tooltip="Churn only at sigma >= s_tmin."),
    Param("s_tmax", "FLOAT", 1000.0, 0.0, 1000.0, 0.001, tooltip="Churn only at sigma <= s_tmax."),
    S_NOISE), tags=("ode", "first_order"), description="Euler on the probability-flow ODE (Karras et al. 2022), one "
    "model call per step; s_churn > 0 re-adds noise first (Karras' stochastic sampler).")(solvers.sample_euler)
SAMPLERS.register("euler_ancestral", (ETA, S_NOISE), tags=("ancestral",), description="Euler ancestral: each step "
                  "goes below the next level and adds fresh noise back up to it (eta = 0: plain Euler), one call "
                  "per step; varies with the seed.")(solvers.sample_ancestral)
SAMPLERS.register("ddim", (Param("eta", "FLOAT", 0.0, 0.0, 1.0, 0.01,
    tooltip="DDIM eta: 0 = deterministic DDIM, 1 = DDPM's posterior variance."), S_NOISE),
    tags=("ode", "first_order", "ancestral"),
    description="DDIM (Song et al. 2021): eta = 0 is the deterministic DDIM step (Euler in sigma, ComfyUI's ddim), "
                "eta > 0 adds DDIM's sigma_t(eta) noise (eta = 1: DDPM's posterior).")(solvers.sample_ddim)
SAMPLERS.register("ddpm", (S_NOISE,), tags=("ancestral",), description="DDPM (Ho et al. 2020): the ancestral step "
                  "with the posterior's variance, as ComfyUI's ddpm; one call per step, varies with the seed.")(
    solvers.sample_ddpm)
SAMPLERS.register("heun", (), tags=("ode",), description="Heun's second-order method (2 model calls per step).")(
    solvers.sample_heun)
SAMPLERS.register("dpm_2", (), tags=("ode",), description="DPM-Solver-2: midpoint at sqrt(sigma sigma'), the "
                  "midpoint in log sigma, as ComfyUI's dpm_2 (2 calls per step).")(solvers.sample_dpm_2)
SAMPLERS.register("lms", (ADAMS_ORDER,), tags=("ode",), description="Linear multistep (Adams-Bashforth) on "
                  "dx/dsigma with the weights of the actual steps, as ComfyUI's lms; one call per step.")(
    solvers.sample_lms)
SAMPLERS.register("ipndm", (ADAMS_ORDER,), tags=("ode",), description="iPNDM (Zhang & Chen): Adams-Bashforth in x "
                  "with the published fixed coefficients and a lower-order warm-up, as ComfyUI's ipndm.")(
    solvers.sample_ipndm)
SAMPLERS.register("ipndm_v", (ADAMS_ORDER,), tags=("ode",), description="Variable-step iPNDM: Adams weights of the "
                  "actual steps (the same numbers as lms; ComfyUI's differ from order 3 on).")(solvers.sample_ipndm_v)
SAMPLERS.register("dpmpp_2m", (), tags=("ode",), description="DPM-Solver++(2M) (Lu et al. 2022): second-order "
                  "multistep in log sigma, one call per step, as ComfyUI's dpmpp_2m; a good default from 8 steps.")(
    solvers.sample_dpmpp_2m)
SAMPLERS.register("res_multistep", (), tags=("ode",), description="Multistep exponential integrator: D linear in "
                  "log sigma integrated exactly, as ComfyUI's res_multistep.")(solvers.sample_res_multistep)
SAMPLERS.register("dpmpp_2m_sde", (ETA, S_NOISE, Param("solver_type", "COMBO", "midpoint", choices=("midpoint", "heun"),
    tooltip="Second-order correction of DPM-Solver++(2M) SDE."), BROWNIAN), tags=("sde",),
    description="DPM-Solver++(2M) SDE: the second-order multistep step with fresh noise (eta), one call per step, "
                "as ComfyUI's dpmpp_2m_sde; varies with the seed.")(solvers.sample_dpmpp_2m_sde)
SAMPLERS.register("dpmpp_3m_sde", (ETA, S_NOISE, BROWNIAN), tags=("sde",), description="DPM-Solver++(3M) SDE: "
                  "third-order multistep with fresh noise (eta), one call per step; varies with the seed.")(
    solvers.sample_dpmpp_3m_sde)
SAMPLERS.register("unipc", (
    Param("order", "INT", 3, 1, 3, 1, tooltip="Predictor order (the corrector adds one): 3 is best from ~10 steps, "
                                               "2 below that."),
    Param("variant", "COMBO", "bh2", choices=("bh1", "bh2"), tooltip="UniPC B(h): bh1 = h, bh2 = e^h - 1.")),
    tags=("ode",), description="UniPC (Zhao et al. 2023): a predictor and a corrector that reuses the next model "
                               "call, one call per step.")(solvers.sample_unipc)
SAMPLERS.register("pc_sigma", (Param("order", "INT", 4, 1, 4, 1, tooltip="Predictor order (the corrector adds one)."),),
    tags=("ode",), description="UniPC's predictor-corrector with D interpolated in sigma instead of log sigma: "
                               "noisekit's most accurate solver from about 10 steps.")(solvers.sample_pc_sigma)


def sample_repaint(model, x, sigmas, extra_args=None, callback=None, disable=None, base="euler_ancestral",
                   jump_length=10, jump_n_sample=2):
    """RePaint (samplers/repaint.py) around the registered sampler ``base``."""
    return repaint_sampler(Sampler(base), jump_length, jump_n_sample)(model, x, sigmas, extra_args, callback, disable)


SAMPLERS.register("repaint", (
    Param("base", "COMBO", "euler_ancestral", choices=tuple(SAMPLERS.names()), tooltip="Sampler run between jumps."),
    JUMP_LENGTH, JUMP_N_SAMPLE), tags=("inpaint",), description="RePaint (Lugmayr et al. 2022) for inpainting: runs "
    "the base sampler, and every jump_length steps re-noises and samples that stretch again (jump_n_sample times) "
    "so the hole agrees with what surrounds it.")(sample_repaint)
SAMPLERS.register("annealed_mean", (
    Param("draws", "INT", 1, 1, 64, 1, tooltip="Denoisings averaged per noise level (more levels help more)."),),
    tags=("inpaint",), description="Annealed posterior mean: each level denoises the last estimate noised afresh; "
                                   "on a masked model, high-PSNR fills of holes.")(sample_annealed_mean)


__all__ = ["SAMPLERS", "Sampler", "sample", "add_noise", "unit_noise", "NoiseSampler", "BrownianTreeNoiseSampler",
           "MaskedDenoiser", "Denoiser", "noise_form", "signal_scale", "repaint_sampler", "solvers"]
