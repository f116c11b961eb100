"""Schedules against their published formulas and tables; tools; validation."""
import math

import pytest
import torch

from noisekit.schedules import MODEL_PRESETS, SCHEDULES, SIGMA_TOOLS, get_sigmas
from noisekit.schedules import continuous, discrete, tables

SD_MIN, SD_MAX = 0.0291675, 14.614642


@pytest.mark.parametrize("name", SCHEDULES.names())
@pytest.mark.parametrize("steps", [2, 7, 30])
def test_every_schedule_shape(name, steps):
    s = get_sigmas(name, steps)
    assert s.dtype == torch.float64 and s.ndim == 1
    assert s[-1] == 0 and (s[:-1] > 0).all()
    assert (s[1:] <= s[:-1]).all()
    if name != "ddim_uniform":  # ComfyUI's ddim_uniform may add steps when T % steps != 0
        assert len(s) == steps + 1
    if name != "laplace":  # laplace clamps at its ends
        assert (s[1:] < s[:-1]).all()


@pytest.mark.parametrize("name", [e.name for e in SCHEDULES if "sigma_min" in e.defaults()])
def test_continuous_endpoints(name):
    s = get_sigmas(name, 12, sigma_min=0.5, sigma_max=20.0)
    assert float(s[0]) == pytest.approx(20.0, rel=1e-9)
    assert float(s[-2]) == pytest.approx(0.5, rel=1e-9)


def test_karras_formula():
    s = get_sigmas("karras", 4, sigma_min=0.1, sigma_max=10.0, rho=7.0)
    hand = [(10 ** (1 / 7) + i / 3 * (0.1 ** (1 / 7) - 10 ** (1 / 7))) ** 7 for i in range(4)] + [0.0]
    torch.testing.assert_close(s, torch.tensor(hand, dtype=torch.float64))
    torch.testing.assert_close(get_sigmas("karras", 9, sigma_min=0.1, sigma_max=10.0, rho=1.0),
                               get_sigmas("linear", 9, sigma_min=0.1, sigma_max=10.0))
    # rho -> infinity tends to the exponential (log-linear) schedule
    torch.testing.assert_close(continuous.karras(9, 0.1, 10.0, rho=1e5),
                               get_sigmas("exponential", 9, sigma_min=0.1, sigma_max=10.0), rtol=1e-3, atol=0)
    torch.testing.assert_close(get_sigmas("polyexponential", 9, sigma_min=0.1, sigma_max=10.0, rho=1.0),
                               get_sigmas("exponential", 9, sigma_min=0.1, sigma_max=10.0))


def test_vp_formula():
    s = get_sigmas("vp", 3, beta_d=19.9, beta_min=0.1, eps_s=1e-3)
    t = [1.0, (1 + 1e-3) / 2, 1e-3]
    hand = [math.sqrt(math.exp(19.9 * x * x / 2 + 0.1 * x) - 1) for x in t] + [0.0]
    torch.testing.assert_close(s, torch.tensor(hand, dtype=torch.float64))


def test_kl_optimal_is_linear_in_atan():
    s = get_sigmas("kl_optimal", 6, sigma_min=0.1, sigma_max=10.0)[:-1]
    d = torch.diff(torch.atan(s))
    torch.testing.assert_close(d, torch.full_like(d, (math.atan(0.1) - math.atan(10.0)) / 5))


def test_beta_schedule_symmetric_case_is_linear_in_log_sigma():
    s = get_sigmas("beta", 5, sigma_min=0.1, sigma_max=10.0, alpha=1.0, beta=1.0)  # Beta(1,1) = uniform
    torch.testing.assert_close(s[:-1], get_sigmas("exponential", 5, sigma_min=0.1, sigma_max=10.0)[:-1])


def test_flow_shift():
    s = get_sigmas("flow", 4, shift=3.0)
    base = torch.tensor([1.0, 0.75, 0.5, 0.25, 0.0], dtype=torch.float64)
    torch.testing.assert_close(s, 3 * base / (1 + 2 * base))
    torch.testing.assert_close(get_sigmas("flow", 4, shift=1.0), base)


def test_linear_quadratic_matches_mochi_definition():
    s = get_sigmas("linear_quadratic", 4, sigma_max=1.0, threshold_noise=0.025, linear_steps=2)
    # linear part: 1 - [0, 0.0125]; quadratic part through (2, 0.025) ending at (4, 1)
    assert s[0] == 1.0 and float(s[1]) == pytest.approx(1 - 0.0125) and s[-1] == 0
    assert float(s[2]) == pytest.approx(1 - 0.025)


def test_ays_published_tables_at_ten_steps():
    s = get_sigmas("ays", 10, model="sd15")
    assert s[:-1].tolist() == tables.AYS_10["sd15"][:-1] and s[-1] == 0
    s20 = get_sigmas("ays", 20, model="sdxl")
    assert float(s20[0]) == pytest.approx(14.615) and float(s20[2]) == pytest.approx(6.315, rel=1e-9)
    logs = s20[:-1].log()  # log-linear between table points: equal differences within a segment
    torch.testing.assert_close(logs[1] - logs[0], logs[2] - logs[1])


def test_gits_table_values():
    s = get_sigmas("gits", 10)
    published = [14.61464119, 5.85520077, 2.84484982, 1.67050016, 1.08895338, 0.74807048, 0.50118381,
                 0.32104823, 0.19894916, 0.09824532]
    torch.testing.assert_close(s[:-1], torch.tensor(published, dtype=torch.float64), rtol=2e-3, atol=0)


def test_sd15_discrete_sigmas():
    table = discrete.model_sigmas("scaled_linear")
    assert float(table[0]) == pytest.approx(SD_MIN, abs=1e-6) and float(table[-1]) == pytest.approx(SD_MAX, abs=1e-5)
    s = get_sigmas("normal", 10)
    assert float(s[0]) == pytest.approx(SD_MAX, abs=1e-5) and float(s[-2]) == pytest.approx(SD_MIN, abs=1e-6)


def test_cosine_betas_follow_iddpm():
    T = 1000
    ac = discrete.betas_to_alphas_cumprod(discrete.make_betas("cosine", T))
    f = lambda t: math.cos((t / T + 0.008) / 1.008 * math.pi / 2) ** 2
    assert float(ac[499]) == pytest.approx(f(500) / f(0), rel=1e-9)
    assert float(discrete.make_betas("cosine", T).max()) == pytest.approx(0.999)


def test_discrete_round_trips():
    ac = discrete.betas_to_alphas_cumprod(discrete.make_betas("linear", 1000, 1e-4, 0.02))
    torch.testing.assert_close(discrete.sigmas_to_alphas_cumprod(discrete.alphas_cumprod_to_sigmas(ac)), ac)
    table = discrete.alphas_cumprod_to_sigmas(ac)
    t = torch.tensor([0.0, 12.25, 500.5, 998.75, 999.0], dtype=torch.float64)
    torch.testing.assert_close(discrete.sigma_to_timestep(discrete.timestep_to_sigma(t, table), table), t)


def test_timestep_spacings_by_hand():
    T = 1000
    assert discrete.ddim_uniform_timesteps(20, T).tolist() == list(range(951, 0, -50))
    assert discrete.leading_timesteps(10, T).tolist() == [901, 801, 701, 601, 501, 401, 301, 201, 101, 1]
    assert discrete.trailing_timesteps(10, T).tolist() == [999, 899, 799, 699, 599, 499, 399, 299, 199, 99]
    assert discrete.linspace_timesteps(4, T).tolist() == [999, 666, 333, 0]
    assert discrete.simple_timesteps(4, T).tolist() == [999, 749, 499, 249]
    assert discrete.sgm_uniform_timesteps(3, T).tolist() == [999, 666, 333]


def test_tools_split_splice_are_inverse():
    s = get_sigmas("karras", 10)
    before = s.clone()
    high, low = SIGMA_TOOLS.get("split")(s, step=4)
    assert len(high) == 5 and len(low) == 7 and high[-1] == low[0]
    torch.testing.assert_close(SIGMA_TOOLS.get("splice")(high, low), s)
    hi2, lo2 = SIGMA_TOOLS.get("split_denoise")(s, denoise=0.3)
    assert len(lo2) - 1 == 3
    assert torch.equal(s, before)


def test_tools_values():
    s = torch.tensor([8.0, 2.0, 0.5, 0.0], dtype=torch.float64)
    ext = SIGMA_TOOLS.get("extend")(s, points=1)
    torch.testing.assert_close(ext, torch.tensor([8.0, 4.0, 2.0, 1.0, 0.5, 0.25, 0.0], dtype=torch.float64))
    torch.testing.assert_close(SIGMA_TOOLS.get("flip")(s), torch.tensor([1e-4, 0.5, 2.0, 8.0], dtype=torch.float64))
    torch.testing.assert_close(SIGMA_TOOLS.get("truncate")(s, sigma_max=3.0), s[1:])
    torch.testing.assert_close(SIGMA_TOOLS.get("clamp")(s, sigma_min=1.0, sigma_max=4.0),
                               torch.tensor([4.0, 2.0, 1.0, 0.0], dtype=torch.float64))
    assert SIGMA_TOOLS.get("set_first")(s, sigma=9.0)[0] == 9.0 and s[0] == 8.0


@pytest.mark.parametrize("kwargs,word", [
    ({"steps": 0}, "steps"), ({"sigma_min": 5.0, "sigma_max": 1.0}, "sigma_min"),
    ({"sigma_min": -1.0}, "sigma_min"), ({"sigma_max": float("nan")}, "sigma_max"), ({"rho": "x"}, "rho"),
])
def test_bad_parameters_are_named(kwargs, word):
    params = {"steps": 10, **kwargs}
    with pytest.raises(ValueError, match=word):
        get_sigmas("karras", **params)


def test_unknown_schedule_suggests():
    with pytest.raises(KeyError, match="karras"):
        get_sigmas("karas", 10)


def test_tools_refuse_bad_sigmas():
    with pytest.raises(ValueError, match="descending"):
        SIGMA_TOOLS.get("multiply")(torch.tensor([0.0, 1.0]), factor=2.0)
    with pytest.raises(ValueError, match="NaN"):
        SIGMA_TOOLS.get("multiply")(torch.tensor([float("nan"), 0.0]), factor=2.0)


def test_presets_are_valid_ranges():
    for name, p in MODEL_PRESETS.items():
        assert 0 < p["sigma_min"] < p["sigma_max"], name
