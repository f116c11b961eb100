"""Published step tables: Align Your Steps and GITS.

AYS (Sabour, Fidler & Kreis 2024): the optimised 10-step noise levels NVIDIA
published for SD1.5, SDXL and SVD; other step counts by log-linear
interpolation, and, as ComfyUI's AlignYourStepsScheduler does, the smallest
level replaced by the final 0.

GITS (Chen et al. 2024, "On the trajectory regularity of ODE-based diffusion
sampling"): the published SD1.5 schedules for coefficient 1.20, stored as the
SD1.5 training timesteps they select (2..20 steps; more steps interpolate the
20-step table log-linearly).
"""
from __future__ import annotations

import numpy as np
import torch

from .discrete import model_sigmas

AYS_10 = {
    "sd15": [14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029],
    "sdxl": [14.615, 6.315, 3.771, 2.181, 1.342, 0.862, 0.555, 0.380, 0.234, 0.113, 0.029],
    "svd": [700.00, 54.5, 15.886, 7.977, 4.248, 1.789, 0.981, 0.403, 0.173, 0.034, 0.002],
}

GITS_120_TIMESTEPS = [
    [999, 290, 0], [999, 490, 180, 0], [999, 609, 330, 110, 0], [999, 659, 420, 210, 60, 0],
    [999, 829, 569, 340, 150, 30, 0], [999, 829, 619, 420, 230, 80, 10, 0],
    [999, 829, 619, 450, 290, 150, 60, 10, 0], [999, 829, 659, 499, 340, 210, 110, 40, 10, 0],
    [999, 829, 659, 509, 380, 270, 170, 90, 40, 10, 0], [999, 829, 669, 539, 420, 300, 210, 130, 70, 30, 10, 0],
    [999, 829, 679, 559, 450, 340, 250, 170, 110, 60, 30, 10, 0],
    [999, 859, 709, 609, 490, 380, 290, 210, 150, 100, 60, 30, 10, 0],
    [999, 859, 709, 619, 499, 400, 310, 230, 170, 120, 80, 50, 30, 10, 0],
    [999, 879, 779, 679, 579, 480, 380, 300, 230, 170, 120, 80, 50, 30, 10, 0],
    [999, 879, 779, 679, 579, 480, 380, 300, 230, 170, 130, 90, 60, 40, 20, 10, 0],
    [999, 879, 779, 679, 579, 480, 380, 300, 230, 170, 130, 100, 70, 50, 30, 20, 10, 0],
    [999, 879, 779, 679, 589, 499, 410, 330, 260, 200, 150, 110, 80, 60, 40, 30, 20, 10, 0],
    [999, 879, 779, 679, 589, 499, 420, 340, 270, 210, 160, 120, 90, 70, 50, 40, 30, 20, 10, 0],
    [999, 879, 779, 679, 589, 499, 420, 340, 270, 210, 170, 130, 100, 80, 60, 50, 40, 30, 20, 10, 0],
]


def loglinear_interp(levels: torch.Tensor, n: int) -> torch.Tensor:
    """Resample a descending positive sequence to n points, linearly in log value."""
    ascending_logs = levels.flip(0).log().numpy()
    logs = np.interp(np.linspace(0, 1, n), np.linspace(0, 1, len(levels)), ascending_logs)
    return torch.from_numpy(np.exp(logs)).flip(0)


def ays(steps: int, model: str = "sd15") -> torch.Tensor:
    levels = torch.tensor(AYS_10[model], dtype=torch.float64)
    if steps + 1 != len(levels):
        levels = loglinear_interp(levels, steps + 1)
    levels[-1] = 0.0
    return levels


def gits(steps: int) -> torch.Tensor:
    table = model_sigmas()
    if steps <= 20:
        levels = table[GITS_120_TIMESTEPS[steps - 2]]
    else:
        levels = loglinear_interp(table[GITS_120_TIMESTEPS[-1]], steps + 1)
    levels = levels.clone()
    levels[-1] = 0.0
    return levels
