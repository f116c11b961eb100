"""The probability-flow ODE solved to a tolerance: the reference the samplers are measured against, and the
teacher Tune Sigmas and Tune Sampler fit to (samplers/tune.py).

In t = log sigma the VE ODE reads dx/dt = x - D(x, sigma); scipy's DOP853 solves it with error control in
float64 and gives the states at any levels from its dense output. Error control is what a teacher needs:
a network's D is irregular at small sigma, and a fixed-step high-order solver, however fine, can amplify
that into an end farther from the ODE's than the few-step samplers it is meant to judge (README, *The
fitted solver*; ``python -m noisekit.bench samplers --teacher``); the adaptive solver shortens its steps
there instead.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from scipy.integrate import solve_ivp


class TooManyCalls(RuntimeError):
    """The solve needed more model calls than it was allowed."""


def flow_states(model, x: torch.Tensor, levels: list[float], rtol: float, max_calls: int | None = None
                ) -> list[torch.Tensor]:
    """x (at levels[0]) carried down the ODE: its states at each of levels[1:] (decreasing, all > 0), to relative
    tolerance ``rtol`` (absolute: rtol times the state's RMS). The model is called on x's device and dtype;
    more than ``max_calls`` calls raise TooManyCalls."""
    shape, calls = x.shape, [0]

    def rhs(t, y):
        calls[0] += 1
        if max_calls is not None and calls[0] > max_calls:
            raise TooManyCalls(f"the ODE solve to rtol {rtol:g} needed more than {max_calls} model calls")
        state = torch.from_numpy(y).reshape(shape).to(x.device, x.dtype)
        sigma = torch.full((shape[0],), math.exp(t), dtype=x.dtype, device=x.device)
        with torch.no_grad():
            return (state - model(state, sigma)).double().cpu().reshape(-1).numpy()

    y0 = x.detach().double().cpu().reshape(-1).numpy()
    ts = [math.log(v) for v in levels]
    out = solve_ivp(rhs, (ts[0], ts[-1]), y0, method="DOP853", rtol=rtol, t_eval=ts[1:],
                    atol=rtol * float(np.sqrt(np.mean(y0**2))))
    if not out.success:
        raise RuntimeError(f"flow_states: the probability-flow ODE solve failed ({out.message})")
    return [torch.from_numpy(out.y[:, k].copy()).reshape(shape).to(x.device, x.dtype) for k in range(len(ts) - 1)]


def probability_flow(model, x: torch.Tensor, sigma_from: float, sigma_to: float, rtol: float = 1e-10) -> torch.Tensor:
    """x at sigma_to on the ODE through x at sigma_from, to relative tolerance ``rtol``."""
    return flow_states(model, x, [sigma_from, sigma_to], rtol)[0]
