"""Diffusion samplers with the k-diffusion signature

    fn(model, x, sigmas, extra_args=None, callback=None, disable=None, **options)

``model(x, sigma[B], **extra_args)`` returns the denoised x0; x is the noisy
state at sigmas[0] (the caller adds the initial noise, as ComfyUI's KSAMPLER
does). Every update is written for x = alpha x0 + sigma eps with alpha = 1
(VE/eps models) or alpha = 1 - sigma (rectified flow), so ancestral and SDE
steps are right for both; deterministic steps coincide in the two forms.

Two things differ from the usual implementations, both measured on the exact
Gaussian problem (bench/samplers.py):
- The last step to sigma = 0 does not fall back to a first-order jump: along an
  ODE trajectory the denoised estimate is smooth in s^2 (s = sigma / alpha),
  so the last two estimates are extrapolated to s = 0 (``final_denoised``).
- Multistep coefficients come from the actual step sizes (Lagrange integrals
  for LMS/iPNDM, the ratio r = h_prev / h for DPM-Solver++ and UniPC), so
  non-geometric schedules keep the method's order.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from tqdm.auto import trange

from ..models.base import noise_form, signal_scale
from .noise import BrownianTreeNoiseSampler, NoiseSampler


# ---- helpers named for the math -------------------------------------------------

def to_d(x, sigma, denoised):
    """ODE derivative dx/dsigma = (x - D) / sigma (the same in VE and flow form)."""
    return (x - denoised) / sigma


def ve_sigma(sigma, form):
    """VE-equivalent noise level s = sigma / alpha (inf at sigma = 1 for flow)."""
    a = signal_scale(sigma, form)
    return torch.where(a > 0, sigma / a.clamp(min=1e-300), torch.full_like(sigma, math.inf))


def flow_sigma(s, form):
    """Inverse of ve_sigma."""
    return s / (1 + s) if form == "flow" else s


def half_log_snr(sigma, form):
    """lambda = log(alpha / sigma), the time variable of exponential integrators."""
    return -ve_sigma(sigma, form).log()


def ancestral_step(s, s_next, eta=1.0):
    """(s_down, s_up) for a VE step s -> s_next: the DDIM(eta) / DDPM posterior split."""
    if s_next == 0 or eta == 0:
        return s_next, s_next * 0
    ratio = 0.0 if math.isinf(float(s)) else float((s_next / s) ** 2)
    s_up = torch.minimum(s_next, eta * s_next * math.sqrt(max(0.0, 1 - ratio)))
    return (s_next**2 - s_up**2).sqrt(), s_up


def final_denoised(denoised, sigma, prev, form):
    """Extrapolate the denoised estimate to s = 0, linearly in s^2 (see module docstring).

    ``prev`` = (denoised, sigma) of the previous step on the same trajectory, or None.
    """
    if prev is None:
        return denoised
    prev_denoised, prev_sigma = prev
    u, u_prev = ve_sigma(sigma, form) ** 2, ve_sigma(prev_sigma, form) ** 2
    if not torch.isfinite(u_prev) or u_prev <= u:
        return denoised
    return denoised - u * (prev_denoised - denoised) / (u_prev - u)


def lagrange_weights(nodes, lo, hi):
    """Integrals over [lo, hi] of the Lagrange basis polynomials of ``nodes`` (variable-step Adams)."""
    P = np.polynomial.polynomial
    weights = []
    for j, tj in enumerate(nodes):
        others = [t for k, t in enumerate(nodes) if k != j]
        basis = P.polyfromroots(others) / np.prod([tj - t for t in others]) if others else np.array([1.0])
        antideriv = P.polyint(basis)
        weights.append(P.polyval(hi, antideriv) - P.polyval(lo, antideriv))
    return weights


class Steps:
    """Shared loop plumbing: s_in, the callback, the NaN/inf guard, the progress bar."""

    def __init__(self, name, model, x, sigmas, extra_args, callback, disable):
        self.name, self.model, self.callback = name, model, callback
        self.extra_args = extra_args or {}
        self.sigmas = sigmas.to(device=x.device, dtype=x.dtype)  # a copy for other dtypes; never written to
        self.s_in = x.new_ones([x.shape[0]])
        self.form = noise_form(model)
        self.disable = disable

    def __iter__(self):
        for i in trange(len(self.sigmas) - 1, disable=self.disable, desc=self.name):
            if self.sigmas[i + 1] < self.sigmas[i]:  # repeated sigmas (e.g. a clamped schedule) are no step
                yield i

    def denoise(self, x, sigma):
        return self.model(x, sigma * self.s_in, **self.extra_args)

    def report(self, i, x, denoised, sigma_hat=None):
        if not torch.isfinite(x).all():
            raise FloatingPointError(f"{self.name}: NaN or inf in the sampler state at step {i} "
                                     f"(sigma {float(self.sigmas[i]):.6g} -> {float(self.sigmas[i + 1]):.6g}); "
                                     "check the model output and the sigmas")
        if self.callback is not None:
            sigma = self.sigmas[i]
            self.callback({"i": i, "x": x, "sigma": sigma, "sigma_hat": sigma if sigma_hat is None else sigma_hat,
                           "denoised": denoised})

    def noise_sampler(self, x, noise_sampler, brownian=False):
        if noise_sampler is not None:
            return noise_sampler
        seed = self.extra_args.get("seed")
        if brownian:
            positive = self.sigmas[self.sigmas > 0]
            return BrownianTreeNoiseSampler(x, float(positive.min()), float(positive.max()), seed)
        return NoiseSampler(x, seed)


# ---- samplers ---------------------------------------------------------------------

def churn(x, sigma, gamma, z, form):
    """Raise the noise level by (1 + gamma) in VE-equivalent units: (sigma_hat, x_hat)."""
    s = ve_sigma(sigma, form)
    if not torch.isfinite(s):
        return sigma, x
    s_hat = s * (1 + gamma)
    sigma_hat = flow_sigma(s_hat, form)
    x_ve = x / signal_scale(sigma, form) + (s_hat**2 - s**2).sqrt() * z
    return sigma_hat, signal_scale(sigma_hat, form) * x_ve


def sample_euler(model, x, sigmas, extra_args=None, callback=None, disable=None,
                 s_churn=0.0, s_tmin=0.0, s_tmax=float("inf"), s_noise=1.0, noise_sampler=None):
    """Euler (Karras et al. 2022, Alg. 2 without its correction), with optional churn."""
    run = Steps("euler", model, x, sigmas, extra_args, callback, disable)
    sig, prev = run.sigmas, None
    gamma = min(s_churn / (len(sig) - 1), 2**0.5 - 1) if len(sig) > 1 else 0.0
    noise = run.noise_sampler(x, noise_sampler) if gamma > 0 else None
    for i in run:
        sigma, sigma_next = sig[i], sig[i + 1]
        if gamma > 0 and s_tmin <= sigma <= s_tmax:
            sigma, x = churn(x, sigma, gamma, s_noise * noise(sigma, sigma_next), run.form)
        denoised = run.denoise(x, sigma)
        if sigma_next == 0:
            x = final_denoised(denoised, sigma, prev if gamma == 0 else None, run.form)
        else:
            x = x + to_d(x, sigma, denoised) * (sigma_next - sigma)
        prev = (denoised, sigma)
        run.report(i, x, denoised, sigma)
    return x


def sample_ancestral(model, x, sigmas, extra_args=None, callback=None, disable=None,
                     eta=1.0, s_noise=1.0, noise_sampler=None, _name="euler_ancestral"):
    """DDIM(eta) = Euler ancestral: x' = a'(D + s_down eps_hat + s_up z), eps_hat = (x - a D)/sigma.

    eta = 0 is deterministic DDIM (Song et al. 2021), which is Euler in sigma; eta = 1 draws
    from the DDPM posterior q(x_t-1 | x_t, x0 = D) (Ho et al. 2020): on sigmas taken from a
    model's training alphas_cumprod that is DDPM's discrete sampler exactly.
    """
    run = Steps(_name, model, x, sigmas, extra_args, callback, disable)
    sig, prev = run.sigmas, None
    noise = run.noise_sampler(x, noise_sampler) if eta > 0 else None
    for i in run:
        sigma, sigma_next = sig[i], sig[i + 1]
        denoised = run.denoise(x, sigma)
        if sigma_next == 0:
            x = final_denoised(denoised, sigma, prev if eta == 0 else None, run.form)
        else:
            a, a_next = signal_scale(sigma, run.form), signal_scale(sigma_next, run.form)
            s_down, s_up = ancestral_step(ve_sigma(sigma, run.form), ve_sigma(sigma_next, run.form), eta)
            eps_hat = (x - a * denoised) / sigma
            x = a_next * (denoised + s_down * eps_hat)
            if s_up > 0:
                x = x + a_next * s_up * s_noise * noise(sigma, sigma_next)
        prev = (denoised, sigma)
        run.report(i, x, denoised)
    return x


def sample_ddim(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=0.0, s_noise=1.0,
                noise_sampler=None):
    return sample_ancestral(model, x, sigmas, extra_args, callback, disable, eta, s_noise, noise_sampler, "ddim")


def sample_ddpm(model, x, sigmas, extra_args=None, callback=None, disable=None, s_noise=1.0, noise_sampler=None):
    return sample_ancestral(model, x, sigmas, extra_args, callback, disable, 1.0, s_noise, noise_sampler, "ddpm")


sample_ddim.__doc__ = sample_ddpm.__doc__ = sample_ancestral.__doc__


def sample_heun(model, x, sigmas, extra_args=None, callback=None, disable=None):
    """Heun's second-order method (Karras et al. 2022, Alg. 1, deterministic)."""
    run = Steps("heun", model, x, sigmas, extra_args, callback, disable)
    sig, prev = run.sigmas, None
    for i in run:
        sigma, sigma_next = sig[i], sig[i + 1]
        denoised = run.denoise(x, sigma)
        if sigma_next == 0:
            x = final_denoised(denoised, sigma, prev, run.form)
        else:
            d = to_d(x, sigma, denoised)
            x2 = x + d * (sigma_next - sigma)
            d2 = to_d(x2, sigma_next, run.denoise(x2, sigma_next))
            x = x + (d + d2) / 2 * (sigma_next - sigma)
        prev = (denoised, sigma)
        run.report(i, x, denoised)
    return x


def sample_dpm_2(model, x, sigmas, extra_args=None, callback=None, disable=None):
    """DPM-Solver-2 (Lu et al. 2022) as in k-diffusion: the midpoint in log sigma."""
    run = Steps("dpm_2", model, x, sigmas, extra_args, callback, disable)
    sig, prev = run.sigmas, None
    for i in run:
        sigma, sigma_next = sig[i], sig[i + 1]
        denoised = run.denoise(x, sigma)
        if sigma_next == 0:
            x = final_denoised(denoised, sigma, prev, run.form)
        else:
            sigma_mid = (sigma.log() / 2 + sigma_next.log() / 2).exp()
            x2 = x + to_d(x, sigma, denoised) * (sigma_mid - sigma)
            x = x + to_d(x2, sigma_mid, run.denoise(x2, sigma_mid)) * (sigma_next - sigma)
        prev = (denoised, sigma)
        run.report(i, x, denoised)
    return x


def _adams(name):
    """Variable-step Adams-Bashforth on dx/dsigma: coefficients are exact integrals of the
    Lagrange polynomials through the last ``order`` derivatives, so any step sizes keep the
    order. LMS (k-diffusion) and variable-step iPNDM (Zhang & Chen 2023) are this method;
    both start with lower orders until enough history exists."""

    def sampler(model, x, sigmas, extra_args=None, callback=None, disable=None, order=4):
        run = Steps(name, model, x, sigmas, extra_args, callback, disable)
        sig = run.sigmas
        ts = sig.double().cpu().numpy()
        history, prev = [], None  # (sigma_k, d_k), newest first
        for i in run:
            sigma, sigma_next = sig[i], sig[i + 1]
            denoised = run.denoise(x, sigma)
            if sigma_next == 0:
                x = final_denoised(denoised, sigma, prev, run.form)
            else:
                history = [(ts[i], to_d(x, sigma, denoised))] + history[: order - 1]
                w = lagrange_weights([t for t, _ in history], ts[i], ts[i + 1])
                x = x + sum(wj * dj for wj, (_, dj) in zip(w, history))
            prev = (denoised, sigma)
            run.report(i, x, denoised)
        return x

    sampler.__name__ = f"sample_{name}"
    sampler.__doc__ = _adams.__doc__
    return sampler


sample_lms = _adams("lms")
sample_ipndm = _adams("ipndm")


def _data_prediction_step(x, sigma, sigma_next, denoised_hat, form):
    """First-order exponential-integrator update x' = (sigma'/sigma) x + (a' - a sigma'/sigma) D."""
    a, a_next = signal_scale(sigma, form), signal_scale(sigma_next, form)
    ratio = sigma_next / sigma
    return ratio * x + (a_next - a * ratio) * denoised_hat


def sample_dpmpp_2m(model, x, sigmas, extra_args=None, callback=None, disable=None):
    """DPM-Solver++(2M) (Lu et al. 2022b), variable step: D_hat = (1 + 1/2r) D - (1/2r) D_prev."""
    run = Steps("dpmpp_2m", model, x, sigmas, extra_args, callback, disable)
    sig, prev, h_prev = run.sigmas, None, None
    for i in run:
        sigma, sigma_next = sig[i], sig[i + 1]
        denoised = run.denoise(x, sigma)
        if sigma_next == 0:
            x = final_denoised(denoised, sigma, prev, run.form)
        else:
            h = half_log_snr(sigma_next, run.form) - half_log_snr(sigma, run.form)
            d_hat = denoised
            if prev is not None and torch.isfinite(h_prev) and torch.isfinite(h):
                r = h_prev / h
                d_hat = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * prev[0]
            x = _data_prediction_step(x, sigma, sigma_next, d_hat, run.form)
            h_prev = h
        prev = (denoised, sigma)
        run.report(i, x, denoised)
    return x


def _sde_multistep(name, order):
    """DPM-Solver++(2M/3M) SDE (Lu et al. 2022b; k-diffusion's multistep SDE form) for alpha, sigma."""

    def sampler(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.0, s_noise=1.0,
                solver_type="midpoint", noise_sampler=None, brownian=True):
        run = Steps(name, model, x, sigmas, extra_args, callback, disable)
        sig = run.sigmas
        noise = run.noise_sampler(x, noise_sampler, brownian) if eta > 0 else None
        hist = []  # (denoised, h) newest first
        for i in run:
            sigma, sigma_next = sig[i], sig[i + 1]
            denoised = run.denoise(x, sigma)
            if sigma_next == 0:
                x = denoised
            else:
                a_next = signal_scale(sigma_next, run.form)
                h = half_log_snr(sigma_next, run.form) - half_log_snr(sigma, run.form)
                eta_h = eta * h if eta > 0 else torch.zeros_like(h)  # h = inf (flow from sigma = 1) stays exact
                one_minus = -torch.expm1(-h - eta_h)
                decay = (sigma_next / sigma) * torch.exp(-eta_h)
                x = decay * x + a_next * one_minus * denoised
                usable = [(d, hh) for d, hh in hist if torch.isfinite(hh)]
                if order == 3 and len(usable) >= 2:
                    (d1, h1), (d2, h2) = usable[0], usable[1]
                    r0, r1 = h1 / h, h2 / h
                    d1_0, d1_1 = (denoised - d1) / r0, (d1 - d2) / r1
                    d1v = d1_0 + (d1_0 - d1_1) * r0 / (r0 + r1)
                    d2v = (d1_0 - d1_1) / (r0 + r1)
                    phi_2 = 1 - one_minus / (h + eta_h)
                    phi_3 = phi_2 / (h + eta_h) - 0.5
                    x = x + a_next * (phi_2 * d1v - phi_3 * d2v)
                elif usable:
                    d1, h1 = usable[0]
                    heun = order == 3 or solver_type == "heun"
                    coeff = 1 - one_minus / (h + eta_h) if heun else 0.5 * one_minus
                    x = x + a_next * coeff * (denoised - d1) / (h1 / h)
                if eta > 0:
                    x = x + sigma_next * (-torch.expm1(-2 * eta_h)).sqrt() * s_noise * noise(sigma, sigma_next)
                hist = [(denoised, h)] + hist[:1]
            run.report(i, x, denoised)
        return x

    sampler.__name__ = f"sample_{name}"
    sampler.__doc__ = _sde_multistep.__doc__
    return sampler


sample_dpmpp_2m_sde = _sde_multistep("dpmpp_2m_sde", 2)
sample_dpmpp_3m_sde = _sde_multistep("dpmpp_3m_sde", 3)


def sample_unipc(model, x, sigmas, extra_args=None, callback=None, disable=None, variant="bh2"):
    """UniPC (Zhao et al. 2023), data prediction, UniP-2 predictor with the UniC corrector.

    The corrector reuses the model evaluation at the predicted point, so each step costs
    one model call; B(h) = h (bh1) or e^h - 1 (bh2).
    """
    run = Steps("unipc", model, x, sigmas, extra_args, callback, disable)
    sig, prev, x_prev = run.sigmas, None, None  # prev: (denoised, lambda, sigma) at the last point
    denoised = None
    for i in run:
        sigma, sigma_next = sig[i], sig[i + 1]
        lam = half_log_snr(sigma, run.form)
        if denoised is None:
            denoised = run.denoise(x, sigma)
        if sigma_next == 0:
            x = final_denoised(denoised, sigma, prev and (prev[0], prev[2]), run.form)
            run.report(i, x, denoised)
            break
        h = half_log_snr(sigma_next, run.form) - lam
        a_next = signal_scale(sigma_next, run.form)
        x_lin = _data_prediction_step(x, sigma, sigma_next, denoised, run.form)
        finite = bool(torch.isfinite(h))
        hh = -h
        phi_1 = torch.expm1(hh) if finite else -torch.ones_like(h)
        b_h = (hh if variant == "bh1" else torch.expm1(hh)) if finite else -torch.ones_like(h)
        # b_k = h_phi_k * k! / B(h) for k = 1, 2 (UniPC's order conditions)
        h_phi_1 = phi_1 / hh - 1 if finite else -torch.ones_like(h)
        h_phi_2 = h_phi_1 / hh - 0.5 if finite else torch.zeros_like(h)
        b1, b2 = h_phi_1 / b_h, 2 * h_phi_2 / b_h
        d1 = None
        if prev is not None and finite and torch.isfinite(prev[1]):
            rk = (prev[1] - lam) / h
            d1 = (prev[0] - denoised) / rk
            x_pred = x_lin - a_next * b_h * 0.5 * d1
        else:
            x_pred = x_lin
        denoised_next = run.denoise(x_pred, sigma_next)
        d1_t = denoised_next - denoised
        if d1 is not None:  # solve [[1, 1], [rk, 1]] rho = [b1, b2]
            rho_1 = (b1 - b2) / (1 - rk)
            rho_t = b1 - rho_1
            x = x_lin - a_next * b_h * (rho_1 * d1 + rho_t * d1_t)
        else:
            x = x_lin - a_next * b_h * 0.5 * d1_t
        prev = (denoised, lam, sigma)
        run.report(i, x, denoised)
        denoised = denoised_next
    return x
