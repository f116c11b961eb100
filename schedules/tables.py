"""Published step tables: Align Your Steps and GITS.

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
"""
from __future__ import annotations

import numpy as np
import torch

from .discrete import model_sigmas, timestep_to_sigma

AYS_TIMESTEPS = {
    "sd15": [999, 850, 736, 645, 545, 455, 343, 233, 124, 24, 0],
    "sdxl": [999, 845, 730, 587, 443, 310, 193, 116, 53, 13, 0],
}
AYS_SIGMAS = {"svd": [700.00, 54.5, 15.886, 7.977, 4.248, 1.789, 0.981, 0.403, 0.173, 0.034, 0.002]}
AYS_MODELS = ("sd15", "sdxl", "svd")

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
