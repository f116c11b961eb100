"""Sigma schedules and tools, registered with their declared parameters.

``SCHEDULES``: name -> ``fn(steps, **params)`` returning a float64, descending
1-D tensor of steps + 1 noise levels ending in 0. Tags: "continuous" (model-free
formulas), "discrete" (a DDPM model's training timesteps, from its beta
schedule: no MODEL needed), "table" (published tables), "flow".
``SIGMA_TOOLS``: name -> ``fn(sigmas, **params)``.
"""
from __future__ import annotations

import math

import torch

from ..registry import Param, Registry
from . import continuous, discrete, tables, tools

SCHEDULES = Registry("schedule")
SIGMA_TOOLS = Registry("sigma tool")

# sigma ranges of common models (VE sigmas; flow models use sigma in [0, 1])
MODEL_PRESETS = {
    "sd15": {"sigma_min": 0.0291675, "sigma_max": 14.614642, "kind": "eps"},
    "sdxl": {"sigma_min": 0.0291675, "sigma_max": 14.614642, "kind": "eps"},
    "edm": {"sigma_min": 0.002, "sigma_max": 80.0, "kind": "edm"},
    "noisekit-default": {"sigma_min": 0.002, "sigma_max": 80.0, "kind": "edm"},
    "flow": {"sigma_min": 0.001, "sigma_max": 1.0, "kind": "flow"},
}

STEPS = Param("steps", "INT", 20, 1, 10000, 1, tooltip="Number of sampling steps (the schedule has steps + 1 sigmas).")
SIGMA_MIN = Param("sigma_min", "FLOAT", 0.0291675, 0.0, 5000.0, 0.0001,
                  tooltip="Smallest nonzero noise level (SD1.5/SDXL: 0.0292; EDM: 0.002).")
SIGMA_MAX = Param("sigma_max", "FLOAT", 14.614642, 0.0, 5000.0, 0.0001,
                  tooltip="Largest noise level, where sampling starts (SD1.5/SDXL: 14.61; EDM: 80).")
RHO = Param("rho", "FLOAT", 7.0, 0.0, 100.0, 0.01, tooltip="Curvature: larger rho spends more steps at low noise.")
BETA_PARAMS = (
    Param("beta_schedule", "COMBO", "scaled_linear", choices=discrete.BETA_SCHEDULES,
          tooltip="The model's training beta schedule (SD1.x/SDXL: scaled_linear)."),
    Param("beta_start", "FLOAT", 0.00085, 0.0, 1.0, 0.00001, tooltip="First training beta."),
    Param("beta_end", "FLOAT", 0.012, 0.0, 1.0, 0.00001, tooltip="Last training beta."),
    Param("num_train_timesteps", "INT", 1000, 2, 100000, 1, tooltip="Number of training timesteps T."),
)


def check_range(sigma_min: float, sigma_max: float, owner: str):
    if not 0 < sigma_min < sigma_max:
        raise ValueError(f"{owner}: need 0 < sigma_min < sigma_max, got sigma_min={sigma_min}, sigma_max={sigma_max}")


def _continuous(name, fn, extra=(), description=""):
    """Register a (steps, sigma_min, sigma_max, **knobs) formula with its range check."""

    def schedule(steps, sigma_min, sigma_max, **knobs):
        check_range(sigma_min, sigma_max, name)
        return fn(steps, sigma_min, sigma_max, **knobs)

    SCHEDULES.register(name, (STEPS, SIGMA_MIN, SIGMA_MAX) + tuple(extra), description or fn.__doc__.split("\n")[0],
                       tags=("continuous",))(schedule)


_continuous("karras", continuous.karras, (RHO,))
_continuous("exponential", continuous.exponential)
_continuous("polyexponential", continuous.polyexponential,
            (Param("rho", "FLOAT", 1.0, 0.0, 100.0, 0.01, tooltip="Polynomial power of the log-sigma ramp."),))
_continuous("laplace", continuous.laplace,
            (Param("mu", "FLOAT", 0.0, -10.0, 10.0, 0.1, tooltip="Centre of the Laplace distribution of log sigma."),
             Param("beta", "FLOAT", 0.5, 0.01, 10.0, 0.01, tooltip="Scale of the Laplace distribution.")))
_continuous("linear", continuous.linear)
_continuous("kl_optimal", continuous.kl_optimal)
_continuous("beta", continuous.beta,
            (Param("alpha", "FLOAT", 0.6, 0.01, 50.0, 0.01, tooltip="Beta distribution alpha (< 1: more steps at the ends)."),
             Param("beta", "FLOAT", 0.6, 0.01, 50.0, 0.01, tooltip="Beta distribution beta.")))

SCHEDULES.register("vp", (STEPS,
    Param("beta_d", "FLOAT", 19.9, 0.0, 1000.0, 0.01, tooltip="VP-SDE beta_d (Song et al. 2021)."),
    Param("beta_min", "FLOAT", 0.1, 0.0, 1000.0, 0.01, tooltip="VP-SDE beta_min."),
    Param("eps_s", "FLOAT", 0.001, 0.0001, 1.0, 0.0001, tooltip="Smallest time of the VP-SDE.")),
    tags=("continuous",))(continuous.vp)
SCHEDULES.register("linear_quadratic", (STEPS, Param("sigma_max", "FLOAT", 1.0, 0.0, 5000.0, 0.0001, tooltip=SIGMA_MAX.tooltip),
    Param("threshold_noise", "FLOAT", 0.025, 0.0, 1.0, 0.001, tooltip="Noise reached at the end of the linear part."),
    Param("linear_steps", "INT", 0, 0, 10000, 1, tooltip="Steps of the linear part (0: half the steps).")),
    tags=("continuous", "flow"))(continuous.linear_quadratic)
SCHEDULES.register("flow", (STEPS, Param("shift", "FLOAT", 3.0, 0.01, 100.0, 0.01,
    tooltip="Time shift s: sigma' = s sigma / (1 + (s - 1) sigma); SD3 uses 3.0, 1.0 = no shift."),
    Param("sigma_max", "FLOAT", 1.0, 0.0, 1.0, 0.001, tooltip="Starting sigma of the flow (1 = pure noise).")),
    tags=("flow",))(continuous.flow)
SCHEDULES.register("ays", (STEPS, Param("model", "COMBO", "sd15", choices=tuple(tables.AYS_10),
    tooltip="Which published Align Your Steps table.")), tags=("table",))(tables.ays)
SCHEDULES.register("gits", (Param("steps", "INT", 10, 2, 1000, 1, tooltip=STEPS.tooltip),),
                   tags=("table",))(tables.gits)


def _spacing(name, spacing):
    def schedule(steps, beta_schedule, beta_start, beta_end, num_train_timesteps):
        table = discrete.model_sigmas(beta_schedule, num_train_timesteps, beta_start, beta_end)
        t = spacing(steps, num_train_timesteps)
        return continuous.append_zero(discrete.timestep_to_sigma(t, table))

    SCHEDULES.register(name, (STEPS,) + BETA_PARAMS, spacing.__doc__.split("\n")[0], tags=("discrete",))(schedule)


for _name, _spacing_fn in discrete.SPACINGS.items():
    _spacing(_name, _spacing_fn)


def get_sigmas(name: str, steps: int, **params) -> torch.Tensor:
    """The named schedule with ``steps`` steps; unknown names and bad parameters raise naming them."""
    return SCHEDULES.get(name)(steps=steps, **params)


def _tool(name, fn, params=(), tags=(), description=""):
    def tool(sigmas, *others, **values):
        tools.check_sigmas(sigmas)
        return fn(sigmas, *others, **values)

    SIGMA_TOOLS.register(name, params, description or fn.__doc__.split("\n")[0] if fn.__doc__ else name,
                         tags=tags)(tool)


_STEP = Param("step", "INT", 0, 0, 10000, 1, tooltip="Index of the sigma where the schedule is split.")
_tool("split", tools.split_at_step, (_STEP,), tags=("split",))
_tool("split_denoise", tools.split_at_denoise, (Param("denoise", "FLOAT", 1.0, 0.0, 1.0, 0.01,
      tooltip="Fraction of the steps in the low part."),), tags=("split",))
_tool("flip", tools.flip, tags=("unchecked_output",))
_tool("splice", tools.splice, tags=("binary",))
_tool("set_first", tools.set_first, (Param("sigma", "FLOAT", 14.614642, 0.0, 5000.0, 0.0001, tooltip="New first sigma."),))
_tool("extend", tools.extend, (Param("points", "INT", 1, 1, 100, 1, tooltip="Sigmas inserted between each pair."),
      Param("mode", "COMBO", "log_linear", choices=("log_linear", "linear"), tooltip="Interpolation of the new points.")))
_tool("multiply", tools.multiply, (Param("factor", "FLOAT", 1.0, 0.0, 100.0, 0.001, tooltip="Scale every sigma."),))
_tool("clamp", tools.clamp, (Param("sigma_min", "FLOAT", 0.0, 0.0, 5000.0, 0.0001, tooltip="Lower bound of nonzero sigmas."),
      Param("sigma_max", "FLOAT", 1000.0, 0.0, 5000.0, 0.0001, tooltip="Upper bound.")))
_tool("truncate", tools.truncate, (Param("sigma_max", "FLOAT", 1000.0, 0.0, 5000.0, 0.0001,
      tooltip="Drop leading sigmas above this."),))
_tool("flow_shift", tools.flow_shift, (Param("shift", "FLOAT", 3.0, 0.01, 100.0, 0.01,
      tooltip="Rectified-flow time shift s: sigma' = s sigma / (1 + (s - 1) sigma)."),))

__all__ = ["SCHEDULES", "SIGMA_TOOLS", "MODEL_PRESETS", "get_sigmas", "continuous", "discrete", "tables", "tools"]
