"""Sigma schedules and tools, registered with their declared parameters.

``SCHEDULES``: name -> ``fn(steps, **params)`` returning a float64, descending
1-D tensor of steps + 1 noise levels ending in exactly 0. Tags:

- "continuous": model-free formulas over [sigma_min, sigma_max] (karras,
  exponential, ...; see ``continuous``);
- "discrete": the timesteps of a DDPM-family model, picked by a timestep spacing
  and read off the sigma table of its beta schedule, which is given as
  parameters, so no model is needed (see ``discrete``);
- "table": published tables, AYS and GITS (see ``tables``);
- "flow": rectified-flow schedules, sigma in [0, 1].

Exceptions, kept for parity with ComfyUI: laplace repeats its clamped end values
(see ``continuous.laplace``) and ddim_uniform may give a few more than ``steps``
steps (see ``discrete.ddim_uniform_timesteps``).

``SIGMA_TOOLS``: name -> ``fn(sigmas, **params)`` (``fn(sigmas, other, **params)``
for the tools tagged "binary"; tools tagged "split" return (high, low)).
``MODEL_PRESETS``: sigma ranges of common models. ``get_sigmas(name, steps, **params)``.
"""
from __future__ import annotations

import torch

from ..registry import Param, Registry
from . import continuous, discrete, tables, tools

SCHEDULES = Registry("schedule")
SIGMA_TOOLS = Registry("sigma tool")

# Noise-level ranges of common models. "kind" is the denoiser parameterisation
# (the Denoiser protocol, samplers/denoiser.py); flow models use sigma in (0, 1].
_SD = {"sigma_min": 0.0291675, "sigma_max": 14.614642, "kind": "eps", "beta_schedule": "scaled_linear",
       "beta_start": 0.00085, "beta_end": 0.012, "num_train_timesteps": 1000}
MODEL_PRESETS = {
    "sd15": dict(_SD),
    "sdxl": dict(_SD),
    "edm": {"sigma_min": 0.002, "sigma_max": 80.0, "kind": "edm"},
    "noisekit-default": {"sigma_min": 0.002, "sigma_max": 80.0, "kind": "edm"},
    "flow": {"sigma_min": 0.001, "sigma_max": 1.0, "kind": "flow"},
}

STEPS = Param("steps", "INT", 20, 1, 10000, 1, tooltip="Number of sampling steps (the schedule has steps + 1 sigmas).")
SIGMA_MIN = Param("sigma_min", "FLOAT", 0.0291675, 0.0, 5000.0, 0.0001,
                  tooltip="Smallest nonzero noise level (SD1.x/SDXL: 0.0292; EDM: 0.002). Must be > 0.")
SIGMA_MAX = Param("sigma_max", "FLOAT", 14.614642, 0.0, 5000.0, 0.0001,
                  tooltip="Largest noise level, where sampling starts (SD1.x/SDXL: 14.61; EDM: 80).")
RHO = Param("rho", "FLOAT", 7.0, 0.0, 100.0, 0.01,
            tooltip="Karras rho (> 0): larger spends more steps at low noise; 7 is EDM's choice, 1 is linear.")
BETA_PARAMS = (
    Param("beta_schedule", "COMBO", "scaled_linear", choices=discrete.BETA_SCHEDULES,
          tooltip="The model's training beta schedule (SD1.x/SDXL: scaled_linear; cosine ignores the betas below)."),
    Param("beta_start", "FLOAT", 0.00085, 0.0, 1.0, 0.00001, tooltip="First training beta (SD1.x/SDXL: 0.00085)."),
    Param("beta_end", "FLOAT", 0.012, 0.0, 1.0, 0.00001, tooltip="Last training beta (SD1.x/SDXL: 0.012)."),
    Param("num_train_timesteps", "INT", 1000, 2, 100000, 1, tooltip="Number of training timesteps T."),
)


def _fail(name: str, message: str):
    raise ValueError(f"schedule {name!r}: {message}")


def _check_range(name: str, sigma_min: float, sigma_max: float):
    if not sigma_min > 0:
        _fail(name, f"sigma_min must be > 0 (the final 0 is appended), got sigma_min={sigma_min}")
    if not sigma_min < sigma_max:
        _fail(name, f"sigma_min must be below sigma_max, got sigma_min={sigma_min}, sigma_max={sigma_max}")


def _checked_output(name: str, sigmas: torch.Tensor, params: dict) -> torch.Tensor:
    """Refuse non-finite sigmas: knobs within their declared bounds can still overflow (vp)."""
    if not torch.isfinite(sigmas).all():
        _fail(name, f"the parameters {params} give non-finite sigmas; use smaller values")
    return sigmas


def _register(name: str, fn, params, tags, check=None, description: str = ""):
    """Register ``fn(steps, **knobs)`` behind its cross-parameter ``check(steps, **knobs)``."""

    def schedule(steps, **knobs):
        if check is not None:
            check(steps, **knobs)
        return _checked_output(name, fn(steps, **knobs), knobs)

    schedule.__doc__ = fn.__doc__
    SCHEDULES.register(name, params, description, tags=tags)(schedule)


def _continuous(name, fn, extra=(), check=None):
    def range_then(steps, sigma_min, sigma_max, **knobs):
        _check_range(name, sigma_min, sigma_max)
        if check is not None:
            check(steps, **knobs)

    _register(name, fn, (STEPS, SIGMA_MIN, SIGMA_MAX) + tuple(extra), ("continuous",), range_then)


def _positive_rho(name):
    def check(steps, rho):
        if not rho > 0:
            _fail(name, f"rho must be > 0, got {rho}")

    return check


_continuous("karras", continuous.karras, (RHO,), _positive_rho("karras"))
_continuous("exponential", continuous.exponential)
_continuous("polyexponential", continuous.polyexponential,
            (Param("rho", "FLOAT", 1.0, 0.0, 100.0, 0.01,
                   tooltip="Power (> 0) of the log-sigma ramp; 1 is the exponential schedule."),),
            _positive_rho("polyexponential"))
_continuous("laplace", continuous.laplace,
            (Param("mu", "FLOAT", 0.0, -10.0, 10.0, 0.1, tooltip="Centre of the Laplace distribution of log sigma."),
             Param("beta", "FLOAT", 0.5, 0.01, 10.0, 0.01, tooltip="Scale of the Laplace distribution of log sigma.")))
_continuous("linear", continuous.linear)
_continuous("kl_optimal", continuous.kl_optimal)
_continuous("beta", continuous.beta,
            (Param("alpha", "FLOAT", 0.6, 0.01, 50.0, 0.01,
                   tooltip="Beta distribution alpha (< 1: more steps at the low-noise end)."),
             Param("beta", "FLOAT", 0.6, 0.01, 50.0, 0.01,
                   tooltip="Beta distribution beta (< 1: more steps at the high-noise end).")))


def _check_vp(steps, beta_d, beta_min, eps_s):
    if not beta_d + beta_min > 0:
        _fail("vp", f"beta_d + beta_min must be > 0 (else every sigma is 0), got beta_d={beta_d}, beta_min={beta_min}")
    if not eps_s < 1:
        _fail("vp", f"eps_s must be below 1 (t runs from 1 down to eps_s), got eps_s={eps_s}")


_register("vp", continuous.vp, (STEPS,
    Param("beta_d", "FLOAT", 19.9, 0.0, 1000.0, 0.01, tooltip="VP-SDE beta_d = beta_max - beta_min (Song et al. 2021)."),
    Param("beta_min", "FLOAT", 0.1, 0.0, 1000.0, 0.01, tooltip="VP-SDE beta_min."),
    Param("eps_s", "FLOAT", 0.001, 0.0001, 1.0, 0.0001, tooltip="Smallest time of the VP-SDE (sets the last sigma).")),
    ("continuous",), _check_vp)


def _check_linear_quadratic(steps, sigma_max, threshold_noise, linear_steps):
    name = "linear_quadratic"
    if not sigma_max > 0:
        _fail(name, f"sigma_max must be > 0, got {sigma_max}")
    if steps > 1 and linear_steps >= steps:
        _fail(name, f"linear_steps must be below steps ({steps}), got {linear_steps}; 0 means steps // 2")
    s = continuous.linear_quadratic(steps, 1.0, threshold_noise, linear_steps)
    if not (s[1:] < s[:-1]).all():
        _fail(name, f"threshold_noise={threshold_noise} with linear_steps={linear_steps or steps // 2} of {steps} "
                    "steps does not descend; use 0 < threshold_noise < linear_steps / steps")


_register("linear_quadratic", continuous.linear_quadratic, (STEPS,
    Param("sigma_max", "FLOAT", 1.0, 0.0, 5000.0, 0.0001, tooltip="Starting sigma: 1 for flow models (Mochi, LTX)."),
    Param("threshold_noise", "FLOAT", 0.025, 0.0, 1.0, 0.001,
          tooltip="Fraction of the noise removed by the end of the linear part."),
    Param("linear_steps", "INT", 0, 0, 10000, 1, tooltip="Steps in the linear part (0: half the steps).")),
    ("continuous", "flow"), _check_linear_quadratic)


def _check_flow(steps, shift, sigma_max):
    if not sigma_max > 0:
        _fail("flow", f"sigma_max must be in (0, 1], got {sigma_max}")


_register("flow", continuous.flow, (STEPS,
    Param("shift", "FLOAT", 3.0, 0.01, 100.0, 0.01,
          tooltip="Time shift s: sigma' = s sigma / (1 + (s - 1) sigma); SD3 uses 3, 1 = no shift."),
    Param("sigma_max", "FLOAT", 1.0, 0.0, 1.0, 0.001, tooltip="Starting sigma before the shift (1 = pure noise).")),
    ("flow",), _check_flow)
_register("ays", tables.ays, (Param("steps", "INT", 10, 1, 10000, 1, tooltip=STEPS.tooltip + " The table has 10."),
    Param("model", "COMBO", "sd15", choices=tables.AYS_MODELS,
          tooltip="Which published Align Your Steps table: Stable Diffusion 1.5, SDXL or Stable Video Diffusion.")),
    ("table",))
_register("optimal_steps", tables.optimal_steps, (Param("steps", "INT", 20, 1, 10000, 1, tooltip=STEPS.tooltip),
    Param("model", "COMBO", "flux", choices=tables.OSS_MODELS,
          tooltip="Which published Optimal Steps table: FLUX.1 (10 steps), Wan (20) or Chroma (40).")),
    ("table", "flow"))


def _check_published(steps, preset):
    if steps < tables.PUBLISHED[preset].min_steps:
        _fail("published", f"{preset} needs at least {tables.PUBLISHED[preset].min_steps} steps, got {steps}")


_register("published", tables.published, (Param("steps", "INT", 10, 1, 10000, 1, tooltip=STEPS.tooltip),
    Param("preset", "COMBO", next(iter(tables.PUBLISHED)), choices=tuple(tables.PUBLISHED),
          tooltip="Model family and method. Sources: " + "; ".join(dict.fromkeys(
              f"{p.method}: {p.source}" for p in tables.PUBLISHED.values())) + ".")),
    ("table",), _check_published, "Published schedules by model family: Align Your Steps, GITS and Optimal Steps, "
    "each at its tuned step count or log-linearly resampled to another.")
_register("gits", tables.gits, (Param("steps", "INT", 10, 2, 10000, 1,
    tooltip=STEPS.tooltip + " Published for 2..20; more interpolate the 20-step table."),), ("table",))


def _spacing(name: str, spacing, extra=()):
    integer = name not in ("normal", "sgm_uniform")  # these two use fractional timesteps

    def check(steps, beta_schedule, beta_start, beta_end, num_train_timesteps, **knobs):
        if integer and steps > num_train_timesteps:
            _fail(name, f"steps ({steps}) must be at most num_train_timesteps ({num_train_timesteps})")

    def schedule(steps, beta_schedule, beta_start, beta_end, num_train_timesteps, **knobs):
        try:
            table = discrete.model_sigmas(beta_schedule, num_train_timesteps, beta_start, beta_end)
        except ValueError as e:
            _fail(name, str(e))
        t = spacing(steps, num_train_timesteps, **knobs)
        if not ((t[1:] < t[:-1]).all() and 0 <= t[-1] and t[0] <= num_train_timesteps - 1):
            _fail(name, f"{steps} steps of {num_train_timesteps} timesteps give timesteps {t.tolist()}, repeated or "
                        "outside [0, T - 1]; use fewer steps (or steps_offset 0)")
        return continuous.append_zero(discrete.timestep_to_sigma(t, table))

    schedule.__doc__ = spacing.__doc__
    _register(name, schedule, (STEPS,) + BETA_PARAMS + tuple(extra), ("discrete",), check)


for _name, _fn in discrete.SPACINGS.items():
    _spacing(_name, _fn, (Param("steps_offset", "INT", 1, 0, 1000, 1,
                                tooltip="Added to every timestep (SD1.x configs: 1)."),) if _name == "leading" else ())


def get_sigmas(name: str, steps: int, **params) -> torch.Tensor:
    """The named schedule with ``steps`` steps; unknown names and bad parameters raise naming them."""
    return SCHEDULES.get(name)(steps=steps, **params)


SIGMA_TOOLS.register("split", (Param("step", "INT", 0, 0, 10000, 1,
    tooltip="Index of the sigma where the schedule is split; both halves hold it."),),
    tags=("split",))(tools.split_at_step)
SIGMA_TOOLS.register("split_denoise", (Param("denoise", "FLOAT", 1.0, 0.0, 1.0, 0.01,
    tooltip="Fraction of the steps in the low part (what an img2img pass of this strength runs)."),),
    tags=("split",))(tools.split_at_denoise)
SIGMA_TOOLS.register("flip", tags=("unchecked_output",))(tools.flip)
SIGMA_TOOLS.register("splice", tags=("binary",))(tools.splice)
SIGMA_TOOLS.register("set_first", (Param("sigma", "FLOAT", 14.614642, 0.0, 20000.0, 0.001,
    tooltip="New first sigma (at least the second one)."),))(tools.set_first)
SIGMA_TOOLS.register("extend", (Param("points", "INT", 1, 1, 100, 1, tooltip="Sigmas inserted between each pair."),
    Param("mode", "COMBO", "log_linear", choices=("log_linear", "linear"),
          tooltip="Spacing of the new sigmas: even in log sigma (geometric) or in sigma.")))(tools.extend)
SIGMA_TOOLS.register("resample", (Param("steps", "INT", 10, 1, 10000, 1,
    tooltip="The step count to resample to; the schedule's shape, first and last level and a final 0 are kept."),),
    )(tools.resample)
SIGMA_TOOLS.register("multiply", (Param("factor", "FLOAT", 1.0, 0.001, 100.0, 0.001,
    tooltip="Scale every sigma by this (> 0)."),))(tools.multiply)
SIGMA_TOOLS.register("clamp", (
    Param("sigma_min", "FLOAT", 0.0, 0.0, 20000.0, 0.0001, tooltip="Lower bound of the nonzero sigmas."),
    Param("sigma_max", "FLOAT", 1000.0, 0.0, 20000.0, 0.0001, tooltip="Upper bound.")))(tools.clamp)
SIGMA_TOOLS.register("truncate", (
    Param("sigma_max", "FLOAT", 1000.0, 0.0, 20000.0, 0.0001, tooltip="Drop the leading sigmas above this."),
    Param("steps", "INT", 0, 0, 10000, 1, tooltip="Then keep at most this many steps (0: all).")))(tools.truncate)
SIGMA_TOOLS.register("flow_shift", (Param("shift", "FLOAT", 3.0, 0.01, 100.0, 0.01,
    tooltip="Rectified-flow time shift s: sigma' = s sigma / (1 + (s - 1) sigma)."),))(tools.flow_shift)

__all__ = ["SCHEDULES", "SIGMA_TOOLS", "MODEL_PRESETS", "get_sigmas", "continuous", "discrete", "tables", "tools"]
