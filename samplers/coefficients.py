"""Step coefficients of the samplers, as plain Python floats from the actual sigmas.

Everything here depends only on the noise levels, never on x: the samplers multiply
tensors by these floats, so the state keeps its dtype (fp64 stays fp64) and every
multistep coefficient is derived from the real step sizes (any schedule, not only
geometric ones).

Notation: x = alpha x0 + sigma eps with alpha = 1 (VE / eps models) or 1 - sigma
(rectified flow); s = sigma / alpha is the VE-equivalent noise level, lambda = -log s
the half log-SNR, h = lambda_next - lambda the step in lambda.
"""
from __future__ import annotations

import math

from .denoiser import signal_scale


def ve_level(sigma: float, form: str) -> float:
    """s = sigma / alpha (inf at sigma = 1 for a flow model: pure noise)."""
    a = signal_scale(sigma, form)
    return sigma / a if a > 0 else math.inf


def flow_level(s: float, form: str) -> float:
    """Inverse of ``ve_level``: the sigma whose VE-equivalent level is s."""
    return (1.0 if math.isinf(s) else s / (1 + s)) if form == "flow" else s


def half_log_snr(sigma: float, form: str) -> float:
    """lambda = log(alpha / sigma): -inf at pure noise, +inf at sigma = 0."""
    return -math.log(ve_level(sigma, form)) if sigma > 0 else math.inf


def ancestral_step(s: float, s_next: float, eta: float = 1.0) -> tuple[float, float]:
    """(s_down, s_up) of a VE step s -> s_next with s_down^2 + s_up^2 = s_next^2.

    s_up = eta * s_next * sqrt(1 - s_next^2 / s^2) is DDIM's sigma_t(eta) (Song et al. 2021);
    eta = 1 makes the step a draw from DDPM's posterior q(x_next | x, x0 = D).
    """
    if s_next == 0 or eta == 0:
        return s_next, 0.0
    ratio = 0.0 if math.isinf(s) else (s_next / s) ** 2
    s_up = min(s_next, eta * s_next * math.sqrt(max(0.0, 1 - ratio)))
    return math.sqrt(s_next**2 - s_up**2), s_up


def _basis_coefficients(nodes: list[float], j: int) -> list[float]:
    """Monomial coefficients (ascending) of the j-th Lagrange basis polynomial on ``nodes``."""
    coeffs = [1.0]
    for k, t in enumerate(nodes):
        if k == j:
            continue
        scale = nodes[j] - t
        shifted = [0.0] + coeffs  # multiply by (z - t) / (t_j - t)
        coeffs = [(shifted[n] - t * (coeffs[n] if n < len(coeffs) else 0.0)) / scale for n in range(len(shifted))]
    return coeffs


def _basis_integrals(nodes: list[float], moments: list[float]) -> list[float]:
    """int L_j(t) w(t) dt for each Lagrange basis polynomial L_j on ``nodes``, given the moments
    M_n = int t^n w(t) dt of the weight w (n < len(nodes))."""
    return [sum(c * m for c, m in zip(_basis_coefficients(nodes, j), moments)) for j in range(len(nodes))]


def adams_weights(nodes: list[float], lo: float, hi: float) -> list[float]:
    """Integrals over [lo, hi] of the Lagrange basis on ``nodes``: variable-step Adams weights."""
    return _basis_integrals(nodes, [(hi ** (n + 1) - lo ** (n + 1)) / (n + 1) for n in range(len(nodes))])


def extrapolation_weights(nodes: list[float], at: float) -> list[float]:
    """Lagrange weights giving the interpolating polynomial's value at ``at``."""
    return [math.prod((at - t) / (tj - t) for k, t in enumerate(nodes) if k != j) for j, tj in enumerate(nodes)]


def exp_moments(h: float, n: int) -> list[float]:
    """M_k = int_0^h e^{-(h - tau)} tau^k dtau for k < n (the phi-functions of exponential integrators).

    Small h: the all-positive series e^{-h} sum_m h^{k+m+1} / (m! (k+m+1)) (no cancellation);
    large h: integration by parts M_k = h^k - k M_{k-1}, stable once h exceeds k.
    """
    if math.isinf(h):
        raise ValueError("exp_moments: the step h must be finite")
    if abs(h) > 2.0:
        out = [-math.expm1(-h)]
        for k in range(1, n):
            out.append(h**k - k * out[-1])
        return out
    out = []
    for k in range(n):
        term, total, m = h ** (k + 1) / (k + 1), 0.0, 0
        while abs(term) > 1e-18 * abs(total) or m < 2:
            total += term
            m += 1
            term *= h / m * (k + m) / (k + m + 1)
        out.append(math.exp(-h) * total)
    return out


def exponential_weights(taus: list[float], h: float) -> list[float]:
    """Weights w_j = int_0^h e^{-(h - tau)} L_j(tau) dtau for a data-prediction exponential
    integrator (DPM-Solver++, Lu et al. 2022b) whose denoised estimates sit at tau_j = lambda_j - lambda:
    x_next = (sigma_next / sigma) x + alpha_next sum_j w_j D_j, exact for D polynomial in lambda."""
    return _basis_integrals(taus, exp_moments(h, len(taus)))


def level_moments(r: float, n: int) -> list[float]:
    """M_k = r int_r^1 t^(k - 2) dt for k < n, r = s_next / s: the integrals of the data-prediction
    update x_next = r x + sum_j w_j D_j against powers of the noise level (``level_weights``)."""
    log_r = math.log(r)
    return ([-math.expm1(log_r), -r * log_r] + [-r * math.expm1((k - 1) * log_r) / (k - 1) for k in range(2, n)])[:n]


def level_weights(levels: list[float], s: float, s_next: float) -> list[float]:
    """Weights w_j = s_next int_{s_next}^{s} L_j(t) / t^2 dt of the exact VE step s -> s_next,
    x_next = (s_next / s) x + sum_j w_j D_j, for D a polynomial in the noise level through the
    estimates at ``levels`` (the Lagrange basis L_j, scaled by s for conditioning).

    Near s = 0 D along a trajectory is smooth in s (D(0) + O(s^2) for smooth data) but
    exponential in lambda (D(0) + O(e^{-2 lambda})), and the error made at level s reaches the
    sample damped by about data scale / s: a polynomial in s fits D best where it matters most.
    """
    return _basis_integrals([t / s for t in levels], level_moments(s_next / s, len(levels)))


def unipc_rhos(rks: list[float], h: float, variant: str, order: int) -> tuple[float, list[float]]:
    """(B(h), rho) of UniPC (Zhao et al. 2023, data prediction) for ``order`` conditions.

    rks are (lambda_k - lambda) / h of the points used (1.0 for the corrector's new point);
    rho solves sum_k rho_k rks_k^(n-1) = n! phi_{n+1}(h) h / B(h), n = 1..order, with
    B(h) = h (bh1) or e^h - 1 (bh2). A single condition uses the paper's rho = 1/2, which
    is where bh1 and bh2 differ; with all conditions the update integrates the Lagrange
    interpolant of D exactly whatever B(h).
    """
    hh = -h
    b_h = hh if variant == "bh1" else math.expm1(hh)
    if order == 1:
        return b_h, [0.5]
    b, h_phi, factorial = [], math.expm1(hh) / hh - 1, 1
    for n in range(1, order + 1):
        b.append(h_phi * factorial / b_h)
        factorial *= n + 1
        h_phi = h_phi / hh - 1 / factorial
    rows = [[r ** (n - 1) for r in rks] for n in range(1, order + 1)]
    return b_h, _solve(rows, b)


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting for the small systems above."""
    n = len(b)
    m = [row[:] + [rhs] for row, rhs in zip(a, b)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(col + 1, n):
            f = m[r][col] / m[col][col]
            m[r] = [vr - f * vc for vr, vc in zip(m[r], m[col])]
    out = [0.0] * n
    for r in reversed(range(n)):
        out[r] = (m[r][n] - sum(m[r][c] * out[c] for c in range(r + 1, n))) / m[r][r]
    return out


# Node spacings (ratios in u = s^2) that the last step to sigma = 0 chooses from (Run.denoised_at_zero):
# consecutive levels, or levels at least 1.3x apart, which amplify the model's irregularity less.
ZERO_NOISE_SPACINGS = (1.05, 1.3)


def zero_noise_weights(levels: list[float], points: int = 4, min_ratio: float = 1.05,
                       at: float = 0.0) -> tuple[list[int], list[float]]:
    """Indices and weights extrapolating the denoised estimate to sigma = 0 from the newest
    ``levels`` (VE-equivalent s, newest first), as a polynomial in u = s^2 (or to u = ``at``).

    Along a probability-flow trajectory D is smooth in u near 0 (the noised density solves
    the heat equation in u / 2), and constant for a point mass, so this final step is exact
    for a point mass and of high order for smooth data, where the usual jump x = D(sigma_min)
    leaves an O(sigma_min^2) error that no step count removes. Nodes closer than
    ``min_ratio`` in u are skipped: close nodes amplify rounding and the model's irregularity
    (4 nodes 1.29x apart, as 50 exponential steps give, have weights summing to 87 in size).
    """
    picked, last = [], 0.0
    for idx, s in enumerate(levels):
        u = s * s
        if not math.isfinite(u) or (picked and u < last * min_ratio):
            continue
        picked.append(idx)
        last = u
        if len(picked) == points:
            break
    if not picked:  # only pure noise so far (a one-step flow schedule): D itself
        return [0], [1.0]
    return picked, extrapolation_weights([levels[i] ** 2 for i in picked], at)


# iPNDM's published coefficients (Zhang & Chen 2023, Eq. 9 / Alg. 2): Adams-Bashforth of orders
# 1-4 for equal steps, newest derivative first; tests check them against the Lagrange integrals.
IPNDM = ((1.0,), (3 / 2, -1 / 2), (23 / 12, -16 / 12, 5 / 12), (55 / 24, -59 / 24, 37 / 24, -9 / 24))
