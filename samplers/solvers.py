"""Diffusion samplers with the k-diffusion signature

    fn(model, x, sigmas, extra_args=None, callback=None, disable=None, **options)

``model(x, sigma[B], **extra_args)`` returns the denoised x0; x is the noisy state
at sigmas[0] (the caller adds the initial noise, as ComfyUI's KSAMPLER does).
Updates are written for x = alpha x0 + sigma eps with alpha = 1 (VE / eps models)
or alpha = 1 - sigma (rectified flow, ``noise_form(model) == "flow"``), so ancestral
and SDE steps are right for both; deterministic steps coincide in the two forms.

Measured on the exact Gaussian problem (``python -m noisekit.bench samplers``):
- The last step to sigma = 0 extrapolates the denoised estimates to u = sigma^2 = 0
  (``coefficients.zero_noise_weights``) instead of jumping to D(sigma_min), which caps
  every usual implementation at the O(sigma_min^2) error of that jump. Euler (and DDIM)
  keep the plain jump: it is their own first-order update.
- Multistep weights integrate the Lagrange interpolant over the actual steps
  (``coefficients``), so non-geometric schedules keep each method's order.
- pc_sigma interpolates D in sigma rather than log sigma: the most accurate at 10 model calls on the
  Gaussian problem; on Gaussian mixtures it leads from 20 calls and ties the best peers at 5-10.
- Per-step overhead: coefficients are Python floats, updates one pass per term
  (``weighted_sum``, ``torch.lerp``), and the NaN/inf guard sums the state every few steps.
"""
from __future__ import annotations

import math
from functools import partial

import torch
from tqdm.auto import trange

from .denoiser import noise_form, signal_scale
from . import coefficients as co
from .noise import BrownianTreeNoiseSampler, NoiseSampler

KEEP = 6  # denoised estimates kept: the multistep orders (<= 4) plus spares for the last step


def sampling_bytes(numel: int, itemsize: int = 4) -> int:
    """A sampler run's memory for a state of ``numel`` numbers: the state, the noise, the model's estimate,
    a working copy and the KEEP estimates it remembers."""
    return (KEEP + 4) * numel * itemsize
CHECK_EVERY = 4  # steps between NaN/inf checks of the state (the states in between are kept until then)


def to_d(x, sigma, denoised):
    """ODE derivative dx/dsigma = (x - D) / sigma (the same in VE and flow form)."""
    return (x - denoised) / sigma


def weighted_sum(terms):
    """sum_j c_j T_j over (c_j, T_j) with float c_j, accumulated in one new tensor: one pass per
    term and no temporaries (a Python sum of products allocates two tensors per term)."""
    (c, t), rest = terms[0], terms[1:]
    out = torch.mul(t, c)
    for c, t in rest:
        out.add_(t, alpha=c)
    return out


def all_finite(*tensors):
    """No NaN/inf in any of the tensors: a sum is one pass and non-finite iff some entry is (summed
    in at least float32: a half-precision sum of a large finite state overflows)."""
    return all(math.isfinite(float(t.sum(dtype=torch.promote_types(t.dtype, torch.float32)))) for t in tensors)


def prediction_miss(levels: list[float], estimates: list[torch.Tensor], spacing: float) -> float:
    """How far the older estimates, extrapolated with ``spacing`` to the newest level, land from the
    newest estimate (the norm of the difference)."""
    picked, weights = co.zero_noise_weights(levels[1:], min_ratio=spacing, at=levels[0] ** 2)
    return float(weighted_sum([(-1.0, estimates[0])] + [(w, estimates[k + 1]) for k, w in zip(picked, weights)]).norm())


class Run:
    """Loop plumbing shared by the samplers: sigmas as floats and tensors, the model call,
    the NaN/inf guard and the callback. Never writes to the caller's sigmas."""

    def __init__(self, name, model, x, sigmas, extra_args, callback, disable):
        self.name, self.model, self.callback, self.disable = name, model, callback, disable
        self.extra_args = extra_args or {}
        self.sigmas = sigmas.to(device=x.device, dtype=x.dtype)  # a new tensor whenever dtype/device differ
        self.levels = sigmas.detach().double().cpu().tolist()  # the sigmas as floats, for the step arithmetic
        self.form = noise_form(model)
        self.ve_levels = [co.ve_level(v, self.form) for v in self.levels]  # sigma / alpha: the VE form's noise level
        self.lam = [co.half_log_snr(v, self.form) for v in self.levels]
        self.s_in = x.new_ones([x.shape[0]])
        self.history = []  # [(i, D_i)], newest first: for multistep updates and the last step
        self.unchecked = []  # [(i, x_i, D_i)] reported since the last NaN/inf check
        self.last = max((i for i in range(len(self.levels) - 1) if self.levels[i + 1] != self.levels[i]), default=-1)

    def __iter__(self):
        """Step indices; repeated sigmas (a clamped schedule) are no step and are skipped."""
        steps = range(len(self.levels) - 1) if self.disable else trange(len(self.levels) - 1, desc=self.name)
        for i in steps:
            if self.levels[i + 1] != self.levels[i]:
                yield i

    def denoised(self, x, sigma):
        return self.model(x, sigma * self.s_in, **self.extra_args)

    def remember(self, i, denoised):
        self.history.insert(0, (i, denoised))
        del self.history[KEEP:]

    def usable(self, order):
        """The newest ``order`` estimates with finite lambda (a flow model's sigma = 1 has none)."""
        return [(j, d) for j, d in self.history if math.isfinite(self.lam[j])][:order]

    def alpha(self, i):
        return signal_scale(self.levels[i], self.form)

    def report(self, i, x, denoised, sigma_hat=None):
        """Check x and D for NaN/inf every CHECK_EVERY steps and at sigma = 0 or the last step, then call back."""
        self.unchecked.append((i, x, denoised))
        if len(self.unchecked) == CHECK_EVERY or i == self.last or self.levels[i + 1] == 0:
            self.check_finite()
        if self.callback is not None:
            sigma = self.sigmas[i]
            self.callback({"i": i, "x": x, "sigma": sigma, "sigma_hat": sigma if sigma_hat is None else sigma_hat,
                           "denoised": denoised})

    def check_finite(self):
        """Raise naming the first step with a non-finite x or D among the unchecked ones. NaN/inf
        persist through the updates, so the newest x and D being finite clears them all; only on
        failure are the older ones searched."""
        unchecked, self.unchecked = self.unchecked, []
        if all_finite(*unchecked[-1][1:]):
            return
        i = next(j for j, x, d in unchecked if not all_finite(x, d))
        raise FloatingPointError(
            f"{self.name}: NaN or inf in the sampler state at step {i} (sigma {self.levels[i]:.6g} -> "
            f"{self.levels[i + 1]:.6g}); check the model output and the sigmas")

    def noise_sampler(self, x, given=None, brownian=False):
        """The caller's noise sampler, or per-item seeded noise from extra_args["seed"]."""
        if given is not None:
            return given
        seed = self.extra_args.get("seed")
        if brownian:
            positive = [v for v in self.levels if v > 0]
            return BrownianTreeNoiseSampler(x, min(positive), max(positive), seed)
        return NoiseSampler(x, seed)

    def denoised_at_zero(self):
        """D extrapolated to sigma = 0 from the remembered estimates (``co.zero_noise_weights``), with
        the node spacing of co.ZERO_NOISE_SPACINGS that best predicts the newest estimate from the
        older ones. A smooth D keeps the closest nodes (the highest order). A D that is irregular
        at small sigma (a network, low precision) gets wider nodes, which amplify it less. On the
        rough test denoiser (tests/samplers) the closest nodes give more than 5x its end error."""
        levels, estimates = [self.ve_levels[i] for i, _ in self.history], [d for _, d in self.history]
        nodes = {r: co.zero_noise_weights(levels, min_ratio=r) for r in co.ZERO_NOISE_SPACINGS}
        spacing = co.ZERO_NOISE_SPACINGS[0]
        if len({tuple(picked) for picked, _ in nodes.values()}) > 1 and math.isfinite(levels[0]):
            spacing = min(nodes, key=lambda r: prediction_miss(levels, estimates, r))  # else the same nodes
        picked, weights = nodes[spacing]
        return weighted_sum([(w, estimates[k]) for k, w in zip(picked, weights)])


# ---- first order, ancestral ---------------------------------------------------------

def sample_euler(model, x, sigmas, extra_args=None, callback=None, disable=None,
                 s_churn=0.0, s_tmin=0.0, s_tmax=float("inf"), s_noise=1.0, noise_sampler=None):
    """Euler on dx/dsigma (Karras et al. 2022, Alg. 2 without the correction), with optional churn:
    the noise level is first raised by (1 + gamma) in VE-equivalent units, gamma = min(s_churn / steps, sqrt2 - 1)."""
    run = Run("euler", model, x, sigmas, extra_args, callback, disable)
    gamma = min(s_churn / (len(run.levels) - 1), 2**0.5 - 1) if len(run.levels) > 1 else 0.0
    noise = run.noise_sampler(x, noise_sampler) if gamma > 0 else None
    for i in run:
        sigma, sigma_hat = run.sigmas[i], run.levels[i]
        if gamma > 0 and s_tmin <= run.levels[i] <= s_tmax and math.isfinite(run.ve_levels[i]):
            s_hat = run.ve_levels[i] * (1 + gamma)
            a, sigma_hat = run.alpha(i), co.flow_level(s_hat, run.form)
            a_hat = signal_scale(sigma_hat, run.form)
            x = a_hat * (x / a + (s_hat**2 - run.ve_levels[i] ** 2) ** 0.5 * s_noise * noise(sigma, run.sigmas[i + 1]))
            sigma = sigma.new_tensor(sigma_hat)
        denoised = run.denoised(x, sigma)
        # x + (x - D) / sigma * (sigma' - sigma) in one pass (lerp needs one dtype: the state's)
        x = torch.lerp(x, denoised.to(x.dtype), 1 - run.levels[i + 1] / sigma_hat)
        run.report(i, x, denoised, sigma)
    return x


def sample_ancestral(model, x, sigmas, extra_args=None, callback=None, disable=None,
                     eta=1.0, s_noise=1.0, noise_sampler=None, name="euler_ancestral"):
    """DDIM(eta) / Euler ancestral: x' = alpha'(D + s_down eps_hat + s_up z), eps_hat = (x - alpha D) / sigma.

    eta = 0 is deterministic DDIM (Song et al. 2021), which is Euler in sigma; eta = 1 draws from
    DDPM's posterior q(x_next | x, x0 = D) (Ho et al. 2020): on sigmas from a model's training
    alphas_cumprod that is DDPM's discrete sampler exactly, elsewhere its continuous-sigma form.
    """
    run = Run(name, model, x, sigmas, extra_args, callback, disable)
    noise = run.noise_sampler(x, noise_sampler) if eta > 0 else None
    for i in run:
        denoised = run.denoised(x, run.sigmas[i])
        if run.levels[i + 1] == 0:
            x = denoised
        else:
            s_down, s_up = co.ancestral_step(run.ve_levels[i], run.ve_levels[i + 1], eta)
            a, a_next = run.alpha(i), run.alpha(i + 1)
            c = a_next * s_down / run.levels[i]  # x' = alpha'(D + s_down (x - alpha D) / sigma)
            x = weighted_sum([(c, x), (a_next - c * a, denoised)])
            if s_up > 0:
                x = x + (a_next * s_up * s_noise) * noise(run.sigmas[i], run.sigmas[i + 1])
        run.report(i, x, denoised)
    return x


def sample_ddim(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=0.0, s_noise=1.0,
                noise_sampler=None):
    return sample_ancestral(model, x, sigmas, extra_args, callback, disable, eta, s_noise, noise_sampler, "ddim")


def sample_ddpm(model, x, sigmas, extra_args=None, callback=None, disable=None, s_noise=1.0, noise_sampler=None):
    return sample_ancestral(model, x, sigmas, extra_args, callback, disable, 1.0, s_noise, noise_sampler, "ddpm")


sample_ddim.__doc__ = sample_ddpm.__doc__ = sample_ancestral.__doc__


# ---- single-step second order ---------------------------------------------------------

def _two_stage(name, midpoint):
    """Second-order two-stage step in sigma: Heun's trapezoid (Karras et al. 2022, Alg. 1), or
    the midpoint rule with the midpoint at the geometric mean sqrt(sigma sigma') (the midpoint in
    log sigma of DPM-Solver-2, Lu et al. 2022): ComfyUI's heun and dpm_2 step for step (recorded
    values, tests/samplers). The last step to 0 extrapolates D over the trajectory
    (``Run.denoised_at_zero``) where ComfyUI takes Euler's jump to D(sigma_min)."""

    def sampler(model, x, sigmas, extra_args=None, callback=None, disable=None):
        run = Run(name, model, x, sigmas, extra_args, callback, disable)
        for i in run:
            sigma, sigma_next = run.sigmas[i], run.sigmas[i + 1]
            denoised = run.denoised(x, sigma)
            run.remember(i, denoised)
            if run.levels[i + 1] == 0:
                x = run.denoised_at_zero()
            elif midpoint:
                sigma_mid = sigma.new_tensor(math.sqrt(run.levels[i] * run.levels[i + 1]))
                x2 = x + to_d(x, sigma, denoised) * (sigma_mid - sigma)
                x = x + to_d(x2, sigma_mid, run.denoised(x2, sigma_mid)) * (sigma_next - sigma)
            else:
                d = to_d(x, sigma, denoised)
                x2 = x + d * (sigma_next - sigma)
                x = x + (d + to_d(x2, sigma_next, run.denoised(x2, sigma_next))) * ((sigma_next - sigma) / 2)
            run.report(i, x, denoised)
        return x

    sampler.__name__, sampler.__doc__ = f"sample_{name}", _two_stage.__doc__
    return sampler


sample_heun = _two_stage("heun", midpoint=False)
sample_dpm_2 = _two_stage("dpm_2", midpoint=True)


# ---- multistep ------------------------------------------------------------------------

def sample_adams(model, x, sigmas, extra_args=None, callback=None, disable=None, order=4, name="lms",
                 weights=co.adams_weights):
    """Variable-step Adams-Bashforth on dx/dsigma: the weights integrate the Lagrange polynomial
    through the last ``order`` derivatives over the actual step, so any schedule keeps the order;
    the first steps use the history there is. k-diffusion's and ComfyUI's LMS step for step
    (recorded values); the last step to 0 extrapolates D (``Run.denoised_at_zero``).
    ``weights(sigmas of the derivatives, sigma, sigma_next)`` gives the step's weights (iPNDM: fixed ones)."""
    run = Run(name, model, x, sigmas, extra_args, callback, disable)
    derivs = []  # (sigma_i, d_i), newest first
    for i in run:
        denoised = run.denoised(x, run.sigmas[i])
        run.remember(i, denoised)
        if run.levels[i + 1] == 0:
            x = run.denoised_at_zero()
        else:
            derivs = [(run.levels[i], to_d(x, run.sigmas[i], denoised))] + derivs[: order - 1]
            step = weights([t for t, _ in derivs], run.levels[i], run.levels[i + 1])
            x = weighted_sum([(1.0, x)] + [(w, d) for w, (_, d) in zip(step, derivs)])
        run.report(i, x, denoised)
    return x


def sample_lms(model, x, sigmas, extra_args=None, callback=None, disable=None, order=4):
    return sample_adams(model, x, sigmas, extra_args, callback, disable, order, "lms")


sample_lms.__doc__ = sample_adams.__doc__


def sample_ipndm_v(model, x, sigmas, extra_args=None, callback=None, disable=None, order=4):
    """Variable-step iPNDM (Zhang & Chen 2023; Zhou et al. 2024): iPNDM with the Adams weights of
    the actual steps (``sample_adams``), so non-uniform schedules keep the order. Mathematically
    the variable-step Adams method that LMS also is (the same numbers). ComfyUI's ipndm_v matches
    it at orders 1-2 (recorded values); its order-3/4 weights are exact on equal steps only (on
    unequal ones its order-4 weights do not even sum to the step), so with ``order`` > 2 the two
    differ from the fourth step on."""
    return sample_adams(model, x, sigmas, extra_args, callback, disable, order, "ipndm_v")


def sample_ipndm(model, x, sigmas, extra_args=None, callback=None, disable=None, order=4):
    """iPNDM (Zhang & Chen 2023, the improved PNDM of the DEIS paper): Adams-Bashforth in x with
    the fixed coefficients of equal steps (``co.IPNDM``) whatever the step sizes, on d = (x - D) / sigma:
    x' = x + (sigma' - sigma) sum_j c_j d_j, the first steps of lower order (Euler, then AB2, AB3)
    with the history there is. ComfyUI's ipndm step for step (recorded values); the last step to 0
    extrapolates D (``Run.denoised_at_zero``) where ComfyUI jumps to D(sigma_min)."""
    def fixed_weights(nodes, sigma, sigma_next):
        return [(sigma_next - sigma) * c for c in co.IPNDM[len(nodes) - 1]]

    return sample_adams(model, x, sigmas, extra_args, callback, disable, order, "ipndm", fixed_weights)


def exponential_step(run, x, i, order):
    """x_next = (sigma'/sigma) x + alpha' sum_j w_j D_j over the newest ``order`` estimates, exact
    for D polynomial in lambda (``co.exponential_weights``); from pure noise (lambda = -inf) the
    first-order limit x_next = sigma' x + alpha' D."""
    a_next, ratio = run.alpha(i + 1), run.levels[i + 1] / run.levels[i]
    if not math.isfinite(run.lam[i]):
        return ratio * x + a_next * run.history[0][1]
    points = run.usable(order)
    h = run.lam[i + 1] - run.lam[i]
    weights = co.exponential_weights([run.lam[j] - run.lam[i] for j, _ in points], h)
    return weighted_sum([(ratio, x)] + [(a_next * w, d) for w, (_, d) in zip(weights, points)])


def sample_dpmpp_2m(model, x, sigmas, extra_args=None, callback=None, disable=None):
    """DPM-Solver++(2M) as published (Lu et al. 2022b, Alg. 2): with r = h_prev / h,
    x' = (sigma'/sigma) x + alpha' (1 - e^{-h}) ((1 + 1/(2r)) D - 1/(2r) D_prev),
    the first step first order. ComfyUI's and k-diffusion's dpmpp_2m step for step (recorded
    values); the last step to 0 extrapolates D (``Run.denoised_at_zero``) where they jump to
    D(sigma_min). ``res_multistep`` integrates the same linear interpolant exactly instead."""
    run = Run("dpmpp_2m", model, x, sigmas, extra_args, callback, disable)
    for i in run:
        denoised = run.denoised(x, run.sigmas[i])
        run.remember(i, denoised)
        if run.levels[i + 1] == 0:
            x = run.denoised_at_zero()
        else:
            x = dpmpp_2m_step(run, x, i)
        run.report(i, x, denoised)
    return x


def dpmpp_2m_step(run, x, i):
    """One DPM-Solver++(2M) step: the first-order update with D replaced by its linear
    extrapolation in lambda halfway into the step, (1 + 1/(2r)) D - 1/(2r) D_prev."""
    points = run.usable(2)
    if len(points) < 2:  # the first step (or from pure noise): first order
        return exponential_step(run, x, i, 1)
    a_next, ratio = run.alpha(i + 1), run.levels[i + 1] / run.levels[i]
    h = run.lam[i + 1] - run.lam[i]
    c = a_next * -math.expm1(-h)
    (_, d), (j, d_prev) = points
    half_over_r = 0.5 * h / (run.lam[i] - run.lam[j])
    return weighted_sum([(ratio, x), (c * (1 + half_over_r), d), (-c * half_over_r, d_prev)])


def sample_res_multistep(model, x, sigmas, extra_args=None, callback=None, disable=None):
    """Second-order multistep exponential integrator (RES, Zhang et al. 2023 / ComfyUI's
    res_multistep): D linear in lambda through the last two estimates, integrated exactly over the
    actual step (``co.exponential_weights``). ComfyUI's res_multistep step for step (recorded
    values); the last step to 0 extrapolates D (``Run.denoised_at_zero``)."""
    run = Run("res_multistep", model, x, sigmas, extra_args, callback, disable)
    for i in run:
        denoised = run.denoised(x, run.sigmas[i])
        run.remember(i, denoised)
        if run.levels[i + 1] == 0:
            x = run.denoised_at_zero()
        else:
            x = exponential_step(run, x, i, 2)
        run.report(i, x, denoised)
    return x


def predict_correct(run, x, step, order):
    """One model call per step (UniPC's scheme, Zhao et al. 2023): ``step`` over the newest ``order``
    estimates predicts x_next, the model is evaluated there, and ``step`` again with that estimate
    added corrects x_next (one order higher); the evaluation is reused by the next step."""
    denoised = None
    for i in run:
        if denoised is None:
            denoised = run.denoised(x, run.sigmas[i])
        run.remember(i, denoised)
        if run.levels[i + 1] == 0:
            x = run.denoised_at_zero()
            run.report(i, x, denoised)
            break
        if not math.isfinite(run.lam[i]):  # from pure noise: first order, no corrector
            x, denoised_prev = exponential_step(run, x, i, 1), denoised
            denoised = run.denoised(x, run.sigmas[i + 1])
            run.report(i, x, denoised_prev)
            continue
        points = run.usable(order)
        denoised_next = run.denoised(step(run, x, i, points), run.sigmas[i + 1])
        x = step(run, x, i, points + [(i + 1, denoised_next)])
        run.report(i, x, denoised)
        denoised = denoised_next
    return x


def unipc_step(run, x, i, points, variant):
    """UniP (or, with the estimate at i + 1 among ``points``, UniC) data-prediction update: the
    first-order step plus B(h) sum_k rho_k (D_k - D_i) / r_k, r_k = (lambda_k - lambda_i) / h."""
    h, a_next = run.lam[i + 1] - run.lam[i], run.alpha(i + 1)
    others = [(j, d) for j, d in points if j != i]
    rks = [(run.lam[j] - run.lam[i]) / h for j, _ in others]
    b_h, rho = co.unipc_rhos(rks, h, variant, len(others)) if others else (0.0, [])
    cs = [-a_next * b_h * r / rk for r, rk in zip(rho, rks)]
    c_i = a_next * -math.expm1(-h) - sum(cs)
    return weighted_sum([(run.levels[i + 1] / run.levels[i], x), (c_i, run.history[0][1])]
                        + [(c, d) for c, (_, d) in zip(cs, others)])


def sample_unipc(model, x, sigmas, extra_args=None, callback=None, disable=None, order=3, variant="bh2"):
    """UniPC (Zhao et al. 2023), data prediction: a UniP-``order`` predictor, the model evaluated
    there, then the UniC corrector (one order higher) with that evaluation, which is reused by the
    next step, so each step costs one model call. B(h) = h (bh1) or e^h - 1 (bh2).

    ComfyUI's uni_pc (bh1) and uni_pc_bh2 step for step (recorded values) except at the end: they
    lower the order of the last two steps and skip the last corrector, where this keeps the order
    and corrects the last step too (one more model call when the sigmas end above 0; to 0 the last
    step extrapolates D, ``Run.denoised_at_zero``)."""
    run = Run("unipc", model, x, sigmas, extra_args, callback, disable)
    return predict_correct(run, x, partial(unipc_step, variant=variant), order)


def level_step(run, x, i, points):
    """x_next = (sigma'/sigma) x + alpha' sum_j w_j D_j, exact for D polynomial in the noise level
    through ``points`` (``co.level_weights``)."""
    a_next = run.alpha(i + 1)
    weights = co.level_weights([run.ve_levels[j] for j, _ in points], run.ve_levels[i], run.ve_levels[i + 1])
    return weighted_sum([(run.levels[i + 1] / run.levels[i], x)] + [(a_next * w, d) for w, (_, d) in zip(weights, points)])


def sample_pc_sigma(model, x, sigmas, extra_args=None, callback=None, disable=None, order=4):
    """UniPC's predictor-corrector scheme (one model call per step) with D interpolated as a
    polynomial in the noise level sigma instead of lambda = -log sigma, each update integrating the
    interpolant exactly (``co.level_weights``): steps of order ``order`` + 1 (the first steps, with
    fewer past estimates, are of lower order, their error damped by about data scale / sigma_max).
    Near sigma = 0, where the sample's error is made, D is smooth in sigma but exponential in
    lambda: at 10 model calls on the Gaussian problem this is 4-7x more accurate than UniPC."""
    run = Run("pc_sigma", model, x, sigmas, extra_args, callback, disable)
    return predict_correct(run, x, level_step, order)


# ---- SDE ------------------------------------------------------------------------------

def sample_dpmpp_sde_multistep(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.0,
                               s_noise=1.0, solver_type="midpoint", noise_sampler=None, brownian=True,
                               order=2, name="dpmpp_2m_sde"):
    """DPM-Solver++(2M/3M) SDE (Lu et al. 2022b; k-diffusion's multistep SDE form), for alpha, sigma:
    x' = (sigma'/sigma) e^{-eta h} x + alpha' (1 - e^{-h - eta h}) D + multistep corrections
         + sigma' sqrt(1 - e^{-2 eta h}) s_noise z.
    eta = 0 is the deterministic multistep ODE solver (and then the last step extrapolates D to 0).
    The 2M form is ComfyUI's dpmpp_2m_sde step for step, both solver types (recorded values); the 3M
    form's third-order term has the factor 2 of phi_3 that ComfyUI's and k-diffusion's lack (theirs
    is then second order; the numbers differ from the third step on)."""
    run = Run(name, model, x, sigmas, extra_args, callback, disable)
    noise = run.noise_sampler(x, noise_sampler, brownian) if eta > 0 else None
    for i in run:
        denoised = run.denoised(x, run.sigmas[i])
        run.remember(i, denoised)
        if run.levels[i + 1] == 0:
            x = denoised if eta > 0 else run.denoised_at_zero()
            run.report(i, x, denoised)
            continue
        a_next = run.alpha(i + 1)
        if not math.isfinite(run.lam[i]):  # from pure noise (x = eps): the h -> inf limit
            h, eta_h = math.inf, (math.inf if eta > 0 else 0.0)
            x = (0.0 if eta > 0 else run.levels[i + 1]) * x + a_next * denoised
        else:
            h = run.lam[i + 1] - run.lam[i]
            eta_h = eta * h
            x = ((run.levels[i + 1] / run.levels[i]) * math.exp(-eta_h)) * x + (a_next * -math.expm1(-h - eta_h)) * denoised
        points = run.usable(order)
        if len(points) > 1 and math.isfinite(h):
            one_minus, he = -math.expm1(-h - eta_h), h + eta_h
            phi_2 = 1 - one_minus / he  # k-diffusion's "heun" coefficient
            (j1, d1) = points[1]
            r0 = (run.lam[i] - run.lam[j1]) / h
            if order == 3 and len(points) > 2:
                j2, d2 = points[2]
                r1 = (run.lam[j1] - run.lam[j2]) / h
                d1_0, d1_1 = (denoised - d1) / r0, (d1 - d2) / r1
                d1v = d1_0 + (d1_0 - d1_1) * (r0 / (r0 + r1))
                d2v = (d1_0 - d1_1) / (r0 + r1)
                phi_3 = phi_2 / he - 0.5
                x = x + (a_next * phi_2) * d1v - (2 * a_next * phi_3) * d2v
            else:
                coeff = phi_2 if (order == 3 or solver_type == "heun") else 0.5 * one_minus
                x = x + (a_next * coeff / r0) * (denoised - d1)
        if eta > 0:
            x = x + (run.levels[i + 1] * math.sqrt(-math.expm1(-2 * eta_h)) * s_noise) * noise(
                run.sigmas[i], run.sigmas[i + 1])
        run.report(i, x, denoised)
    return x


def sample_dpmpp_2m_sde(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.0, s_noise=1.0,
                        solver_type="midpoint", noise_sampler=None, brownian=True):
    return sample_dpmpp_sde_multistep(model, x, sigmas, extra_args, callback, disable, eta, s_noise, solver_type,
                                      noise_sampler, brownian, 2, "dpmpp_2m_sde")


def sample_dpmpp_3m_sde(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.0, s_noise=1.0,
                        noise_sampler=None, brownian=True):
    return sample_dpmpp_sde_multistep(model, x, sigmas, extra_args, callback, disable, eta, s_noise, "heun",
                                      noise_sampler, brownian, 3, "dpmpp_3m_sde")


sample_dpmpp_2m_sde.__doc__ = sample_dpmpp_3m_sde.__doc__ = sample_dpmpp_sde_multistep.__doc__
