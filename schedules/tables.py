"""Published step tables: Align Your Steps, GITS and Optimal Steps, and the list of them by model family.

AYS (Sabour, Fidler & Kreis 2024, "Align Your Steps: Optimizing Sampling
Schedules in Diffusion Models"): the optimised 10-step schedules NVIDIA
published (research.nvidia.com/labs/toronto-ai/AlignYourSteps/howto.html): the
timesteps for Stable Diffusion 1.5 and SDXL (read off the SD1.x/SDXL noise-level
table) and the sigmas for Stable Video Diffusion. Other step counts interpolate
the table linearly in log sigma, as the quick-start guide recommends; as there and
in ComfyUI's AlignYourStepsScheduler, the last (smallest) level becomes the final 0.

GITS (Chen et al. 2024, "On the Trajectory Regularity of ODE-based Diffusion
Sampling", ICML): the SD1.5 schedules for coefficient 1.20, for 2..20 steps, as
in ComfyUI's GITSScheduler. They lie on the grid t = k/1000 of GITS's search,
stored here as the grid indices k; sigma is the SD1.5 noise level at the
fractional timestep 999 k / 1000. More than 20 steps interpolate the 20-step
schedule log-linearly (ComfyUI's rule); fewer than 2 steps are not defined.

Optimal Steps (Pei et al. 2025, "Optimal Stepsize for Diffusion Sampling",
github.com/bebebe666/OptimalSteps): flow-model levels (t in [0, 1]) searched by
dynamic programming against a many-step teacher, published for FLUX.1 (10 steps)
and Wan (20); the 40-step Chroma levels are those ComfyUI's OptimalStepsScheduler
ships. Other step counts and the final 0 follow the AYS rule above, as there.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np
import torch

from .discrete import model_sigmas, timestep_to_sigma

AYS_TIMESTEPS = {
    "sd15": [999, 850, 736, 645, 545, 455, 343, 233, 124, 24, 0],
    "sdxl": [999, 845, 730, 587, 443, 310, 193, 116, 53, 13, 0],
}
AYS_SIGMAS = {"svd": [700.00, 54.5, 15.886, 7.977, 4.248, 1.789, 0.981, 0.403, 0.173, 0.034, 0.002]}
AYS_MODELS = ("sd15", "sdxl", "svd")

OSS_SIGMAS = {
    "flux": [0.9968, 0.9886, 0.9819, 0.975, 0.966, 0.9471, 0.9158, 0.8287, 0.5512, 0.2808, 0.001],
    "wan": [1.0, 0.997, 0.995, 0.993, 0.991, 0.989, 0.987, 0.985, 0.98, 0.975, 0.973, 0.968, 0.96, 0.946, 0.927,
            0.902, 0.864, 0.776, 0.539, 0.208, 0.001],
    "chroma": [0.992, 0.99, 0.988, 0.985, 0.982, 0.978, 0.973, 0.968, 0.961, 0.953, 0.943, 0.931, 0.917, 0.9,
               0.881, 0.858, 0.832, 0.802, 0.769, 0.731, 0.69, 0.646, 0.599, 0.55, 0.501, 0.451, 0.402, 0.355,
               0.311, 0.27, 0.232, 0.199, 0.169, 0.143, 0.12, 0.101, 0.084, 0.07, 0.058, 0.048, 0.001],
}
OSS_MODELS = tuple(OSS_SIGMAS)

GITS_STEPS = range(2, 21)
GITS_120_GRID = [
    [1000, 290, 0],
    [1000, 490, 180, 0],
    [1000, 610, 330, 110, 0],
    [1000, 660, 420, 210, 60, 0],
    [1000, 830, 570, 340, 150, 30, 0],
    [1000, 830, 620, 420, 230, 80, 10, 0],
    [1000, 830, 620, 450, 290, 150, 60, 10, 0],
    [1000, 830, 660, 500, 340, 210, 110, 40, 10, 0],
    [1000, 830, 660, 510, 380, 270, 170, 90, 40, 10, 0],
    [1000, 830, 670, 540, 420, 300, 210, 130, 70, 30, 10, 0],
    [1000, 830, 680, 560, 450, 340, 250, 170, 110, 60, 30, 10, 0],
    [1000, 860, 710, 610, 490, 380, 290, 210, 150, 100, 60, 30, 10, 0],
    [1000, 860, 710, 620, 500, 400, 310, 230, 170, 120, 80, 50, 30, 10, 0],
    [1000, 880, 780, 680, 580, 480, 380, 300, 230, 170, 120, 80, 50, 30, 10, 0],
    [1000, 880, 780, 680, 580, 480, 380, 300, 230, 170, 130, 90, 60, 40, 20, 10, 0],
    [1000, 880, 780, 680, 580, 480, 380, 300, 230, 170, 130, 100, 70, 50, 30, 20, 10, 0],
    [1000, 880, 780, 680, 590, 500, 410, 330, 260, 200, 150, 110, 80, 60, 40, 30, 20, 10, 0],
    [1000, 880, 780, 680, 590, 500, 420, 340, 270, 210, 160, 120, 90, 70, 50, 40, 30, 20, 10, 0],
    [1000, 880, 780, 680, 590, 500, 420, 340, 270, 210, 170, 130, 100, 80, 60, 50, 40, 30, 20, 10, 0],
]


def loglinear_interp(levels: torch.Tensor, n: int) -> torch.Tensor:
    """Resample a descending positive sequence to n points, linearly in log value over an even grid."""
    ascending_logs = levels.flip(0).log().numpy()
    logs = np.interp(np.linspace(0, 1, n), np.linspace(0, 1, len(levels)), ascending_logs)
    return torch.from_numpy(np.exp(logs)).flip(0)


def ays_levels(model: str) -> torch.Tensor:
    """The 11 published AYS noise levels (10 steps), smallest level included."""
    if model in AYS_SIGMAS:
        return torch.tensor(AYS_SIGMAS[model], dtype=torch.float64)
    return model_sigmas()[AYS_TIMESTEPS[model]]


def gits_levels(steps: int) -> torch.Tensor:
    """The published GITS (coefficient 1.20) noise levels for 2..20 steps, smallest level included."""
    k = torch.tensor(GITS_120_GRID[steps - GITS_STEPS.start], dtype=torch.float64)
    return timestep_to_sigma(k * 999 / 1000, model_sigmas())


def _to_steps(levels: torch.Tensor, steps: int) -> torch.Tensor:
    if len(levels) != steps + 1:
        levels = loglinear_interp(levels, steps + 1)
    levels = levels.clone()
    levels[-1] = 0.0
    return levels


def ays(steps: int, model: str = "sd15") -> torch.Tensor:
    """Align Your Steps (Sabour et al. 2024): NVIDIA's 10-step table, log-linear for other step counts."""
    return _to_steps(ays_levels(model), steps)


def gits(steps: int) -> torch.Tensor:
    """GITS (Chen et al. 2024), coefficient 1.20 for SD1.5: the published table up to 20 steps."""
    return _to_steps(gits_levels(min(steps, GITS_STEPS.stop - 1)), steps)


def optimal_steps(steps: int, model: str = "flux") -> torch.Tensor:
    """Optimal Steps (Pei et al. 2025): the published flow-model levels, log-linear for other step counts."""
    return _to_steps(torch.tensor(OSS_SIGMAS[model], dtype=torch.float64), steps)


class Published(NamedTuple):
    family: str  # the model family the levels were tuned for
    method: str
    source: str
    steps: int  # the step count of the published table
    make: Callable[[int], torch.Tensor]
    min_steps: int = 1


_AYS = "Sabour, Fidler & Kreis 2024, research.nvidia.com/labs/toronto-ai/AlignYourSteps"
_OSS = "Pei et al. 2025, github.com/bebebe666/OptimalSteps"
PUBLISHED = {p.family + " - " + p.method: p for p in (
    Published("SD1.5", "Align Your Steps", _AYS, 10, lambda n: ays(n, "sd15")),
    Published("SD1.5", "GITS 1.20", "Chen et al. 2024 (ICML), as in ComfyUI's GITSScheduler", 10, gits,
              GITS_STEPS.start),
    Published("SDXL", "Align Your Steps", _AYS, 10, lambda n: ays(n, "sdxl")),
    Published("SVD", "Align Your Steps", _AYS, 10, lambda n: ays(n, "svd")),
    Published("FLUX.1", "Optimal Steps", _OSS, 10, lambda n: optimal_steps(n, "flux")),
    Published("Wan", "Optimal Steps", _OSS, 20, lambda n: optimal_steps(n, "wan")),
    Published("Chroma", "Optimal Steps", "the Chroma levels of ComfyUI's OptimalStepsScheduler", 40,
              lambda n: optimal_steps(n, "chroma")),
)}


def published(steps: int, preset: str = "SD1.5 - Align Your Steps") -> torch.Tensor:
    """A published schedule picked by model family and method (PUBLISHED names each one's source)."""
    return PUBLISHED[preset].make(steps)
