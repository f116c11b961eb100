"""Samplers against exact answers on the Gaussian problem and a point mass."""
import math

import numpy as np
import pytest
import torch

from noisekit.models.analytic import FiniteDatasetDenoiser, GaussianDenoiser
from noisekit.samplers import SAMPLERS, Sampler, sample, unit_noise
from noisekit.schedules import discrete, get_sigmas

ODE = ["euler", "heun", "dpm_2", "lms", "ipndm", "dpmpp_2m", "unipc", "ddim"]
ORDER = {"euler": 1, "ddim": 1, "heun": 2, "dpm_2": 2, "dpmpp_2m": 2, "lms": 3, "ipndm": 3, "unipc": 2.5}


def _start(form="ve", n=64):
    g = torch.Generator().manual_seed(0)
    return torch.randn(4, n, generator=g, dtype=torch.float64) * (1.0 if form == "flow" else 80.0)


def _error(name, model, x, sigmas):
    out = Sampler(name)(model, x.clone(), sigmas, disable=True)
    return float((out - model.ode_solution(x, float(sigmas[0]), 0.0)).abs().max())


@pytest.mark.parametrize("schedule", ["karras", "exponential"])
@pytest.mark.parametrize("name", ODE)
def test_ode_solver_order(name, schedule):
    model = GaussianDenoiser(0.3, 0.5)
    x = _start()
    steps = [40, 80, 160]
    errors = [_error(name, model, x, get_sigmas(schedule, n, sigma_min=0.002, sigma_max=80.0)) for n in steps]
    order = -np.polyfit(np.log(steps), np.log(errors), 1)[0]
    assert order > ORDER[name] - 0.25, (name, errors, order)


@pytest.mark.parametrize("name", ODE)
def test_ode_solvers_converge_on_flow_models(name):
    model = GaussianDenoiser(0.3, 0.5, noise_form="flow")
    x = _start("flow")
    errors = [_error(name, model, x, get_sigmas("flow", n, shift=3.0)) for n in (40, 160)]
    assert errors[1] < errors[0] / 3 and errors[1] < 0.03, errors


@pytest.mark.parametrize("form", ["ve", "flow"])
@pytest.mark.parametrize("name", SAMPLERS.names())
def test_point_mass_is_exact(name, form):
    model = GaussianDenoiser(0.25, 0.0, noise_form=form)
    sigmas = get_sigmas("flow", 7) if form == "flow" else get_sigmas("karras", 7, sigma_min=0.002, sigma_max=80.0)
    out = sample(model, sigmas, Sampler(name), seed=3, shape=(2, 3, 4, 4))
    torch.testing.assert_close(out, torch.full_like(out, 0.25), atol=1e-5, rtol=0)


def test_ddim_eta0_is_euler():
    model = GaussianDenoiser(0.1, 0.7)
    x, sigmas = _start(), get_sigmas("exponential", 12, sigma_min=0.01, sigma_max=80.0)
    torch.testing.assert_close(Sampler("ddim", eta=0.0)(model, x, sigmas, disable=True),
                               Sampler("euler")(model, x, sigmas, disable=True), rtol=1e-12, atol=1e-12)


def _one_step(name, x, sigma, sigma_next, x0, noise_value, **options):
    model = GaussianDenoiser(x0, 0.0)  # D(x) = x0: isolates the step's own posterior
    sigmas = torch.tensor([sigma, sigma_next], dtype=torch.float64)
    ns = lambda s, t: torch.full_like(x, noise_value)
    return Sampler(name, **options)(model, x.clone(), sigmas, disable=True, noise_sampler=ns)


def test_ddpm_step_is_the_discrete_posterior():
    ac = discrete.betas_to_alphas_cumprod(discrete.make_betas("linear", 1000, 1e-4, 0.02))
    t = 500
    sig = discrete.alphas_cumprod_to_sigmas(ac)
    s, s_next = float(sig[t]), float(sig[t - 1])
    x_vp, x0 = torch.tensor([0.7], dtype=torch.float64), 0.2
    x = x_vp * math.sqrt(1 + s**2)  # VE state
    mean_ve = _one_step("ddpm", x, s, s_next, x0, 0.0)
    coeff_ve = _one_step("ddpm", x, s, s_next, x0, 1.0) - mean_ve
    beta_t, a_t, a_prev = 1 - ac[t] / ac[t - 1], ac[t], ac[t - 1]
    mean_vp = a_prev.sqrt() * beta_t / (1 - a_t) * x0 + (1 - beta_t).sqrt() * (1 - a_prev) / (1 - a_t) * x_vp
    var_vp = (1 - a_prev) / (1 - a_t) * beta_t
    scale = 1 / math.sqrt(1 + s_next**2)  # VE -> VP at t-1
    torch.testing.assert_close(mean_ve * scale, mean_vp, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close((coeff_ve * scale) ** 2, var_vp.reshape(1), rtol=1e-10, atol=1e-14)
    # DDIM with eta = 1 has the same posterior
    torch.testing.assert_close(_one_step("ddim", x, s, s_next, x0, 1.0, eta=1.0), mean_ve + coeff_ve)


@pytest.mark.parametrize("form", ["ve", "flow"])
@pytest.mark.parametrize("name,options", [("euler_ancestral", {}), ("ddpm", {}), ("ddim", {"eta": 0.5}),
                                          ("dpmpp_2m_sde", {}), ("dpmpp_3m_sde", {}), ("euler", {"s_churn": 5.0}),
                                          ("dpmpp_2m_sde", {"brownian": False, "solver_type": "heun"})])
def test_stochastic_samplers_sample_the_data_distribution(name, options, form):
    mean, std = 0.3, 0.5
    model = GaussianDenoiser(mean, std, noise_form=form)
    # ancestral steps carry an O(1/steps) variance bias (x0 replaced by its posterior mean): many steps
    n = 300
    sigmas = get_sigmas("flow", n) if form == "flow" else get_sigmas("karras", n, sigma_min=0.002, sigma_max=80.0)
    out = sample(model, sigmas, Sampler(name, **options), seed=11, shape=(2, 1, 50, 100)).flatten()
    se = std / math.sqrt(out.numel())
    assert abs(float(out.mean()) - mean) < 5 * se + 0.01
    assert abs(float(out.std()) - std) < 0.03


def test_finite_dataset_lands_on_a_data_point():
    points = torch.tensor([[-1.0, 0.5], [0.8, -0.3]], dtype=torch.float64)
    model = FiniteDatasetDenoiser(points)
    out = sample(model, get_sigmas("karras", 30, sigma_min=0.002, sigma_max=80.0), Sampler("dpmpp_2m"), seed=1,
                 shape=(8, 2), latent=torch.zeros(8, 2, dtype=torch.float64))
    dist = torch.cdist(out, points).min(dim=1).values
    assert (dist < 1e-3).all()


@pytest.mark.parametrize("name", ["euler_ancestral", "dpmpp_2m_sde", "dpmpp_3m_sde", "ddpm"])
def test_same_seed_same_item_at_any_batch_size(name):
    model = GaussianDenoiser(0.0, 0.5)
    sigmas = get_sigmas("karras", 8, sigma_min=0.01, sigma_max=10.0)
    batch = sample(model, sigmas, Sampler(name), seed=100, shape=(4, 3, 8, 8))
    for i in range(4):
        single = sample(model, sigmas, Sampler(name), seed=100 + i, shape=(1, 3, 8, 8))
        assert torch.equal(batch[i], single[0])


def test_float64_in_float64_out_and_sigmas_untouched():
    model = GaussianDenoiser(0.0, 1.0)
    sigmas = get_sigmas("karras", 5, sigma_min=0.01, sigma_max=10.0).float()
    before = sigmas.clone()
    for name in SAMPLERS.names():
        out = Sampler(name)(model, torch.ones(2, 3, dtype=torch.float64), sigmas, extra_args={"seed": 0}, disable=True)
        assert out.dtype == torch.float64, name
        assert torch.equal(sigmas, before), name


def test_nan_names_step_and_sigma():
    sigmas = torch.tensor([10.0, 5.0, 1.0, 0.0])
    bad = lambda x, s, **k: torch.where(s.reshape(-1, 1) < 6, torch.full_like(x, float("nan")), x * 0)
    with pytest.raises(FloatingPointError, match=r"step 1 \(sigma 5"):
        Sampler("euler")(bad, torch.ones(1, 2), sigmas, disable=True)


def test_callback_sees_every_step():
    seen = []
    model = GaussianDenoiser(0.0, 1.0)
    Sampler("heun")(model, torch.ones(1, 2), get_sigmas("karras", 6, sigma_min=0.1, sigma_max=10.0),
                    callback=lambda d: seen.append((d["i"], float(d["sigma"]))), disable=True)
    assert [i for i, _ in seen] == list(range(6))


def test_unknown_sampler_and_bad_option():
    with pytest.raises(KeyError, match="euler"):
        Sampler("eulr")
    with pytest.raises(ValueError, match="eta"):
        Sampler("ddim", eta=2.0)


def test_initial_noise_is_per_item():
    a = unit_noise((3, 2, 2), seed=7)
    assert torch.equal(a[2], unit_noise((1, 2, 2), seed=9)[0])
