"""Schedules against closed forms, published tables and ComfyUI/diffusers definitions; tools; validation."""
import math

import pytest
import torch

from noisekit.schedules import MODEL_PRESETS, SCHEDULES, SIGMA_TOOLS, get_sigmas
from noisekit.schedules import continuous, discrete, tables, tools

F64 = torch.float64
SD_MIN, SD_MAX = 0.0291675, 14.614642


def t64(values):
    return torch.tensor(values, dtype=F64)


def close(actual, expected, rtol=1e-12, atol=0.0):
    torch.testing.assert_close(actual, torch.as_tensor(expected, dtype=F64), rtol=rtol, atol=atol)


# ---- every registered schedule -------------------------------------------------------------

def _step_counts(entry):
    return sorted({entry.param("steps").min, 2, 7, 30})


@pytest.mark.parametrize("entry", list(SCHEDULES), ids=lambda e: e.name)
def test_every_schedule_shape_and_order(entry):
    for steps in _step_counts(entry):
        s = entry(steps=steps)
        assert s.dtype == F64 and s.ndim == 1
        assert s[-1] == 0 and (s[:-1] > 0).all(), (entry.name, steps)
        if entry.name == "ddim_uniform":  # ComfyUI's: ceil((T - 1) / (T // steps)) steps
            assert len(s) == math.ceil(999 / (1000 // steps)) + 1
        else:
            assert len(s) == steps + 1, (entry.name, steps)
        assert (s[1:] < s[:-1]).all(), (entry.name, steps)
        for p in entry.params:
            assert p.tooltip, (entry.name, p.name)


@pytest.mark.parametrize("name", SCHEDULES.names("continuous"))
def test_continuous_endpoints(name):
    entry = SCHEDULES.get(name)
    if "sigma_min" not in entry.defaults():
        return  # vp and linear_quadratic: their own endpoint tests below
    for steps in (1, 5, 12):
        s = get_sigmas(name, steps, sigma_min=0.5, sigma_max=20.0)
        assert float(s[0]) == pytest.approx(20.0, rel=1e-12)
        if steps > 1 and name != "beta":  # beta ends at its 1/steps quantile (test below)
            assert float(s[-2]) == pytest.approx(0.5, rel=1e-12)


def test_flow_schedules_stay_in_unit_interval():
    for name in SCHEDULES.names("flow"):
        s = get_sigmas(name, 9)
        # from (nearly: Optimal Steps' published tables start at 0.992-0.9968) pure noise to 0
        assert 0.99 <= float(s[0]) <= 1.0 and s[-1] == 0 and float(s.max()) <= 1.0, name


def test_discrete_endpoints_are_the_sd_table_ends():
    table = discrete.model_sigmas()
    for name in ("normal", "simple", "trailing", "linspace"):
        assert float(get_sigmas(name, 10)[0]) == float(table[-1]), name
    for name in ("normal", "linspace"):
        assert float(get_sigmas(name, 10)[-2]) == float(table[0]), name


# ---- continuous formulas against closed forms ---------------------------------------------

def test_karras_hand_formula_and_limits():
    rho, lo, hi = 7.0, 0.1, 10.0
    hand = [(hi ** (1 / rho) + i / 3 * (lo ** (1 / rho) - hi ** (1 / rho))) ** rho for i in range(4)] + [0.0]
    close(get_sigmas("karras", 4, sigma_min=lo, sigma_max=hi, rho=rho), hand)
    # rho = 1 is linear in sigma
    close(get_sigmas("karras", 9, sigma_min=lo, sigma_max=hi, rho=1.0), get_sigmas("linear", 9, sigma_min=lo, sigma_max=hi))
    # rho -> infinity: (a + r (b - a))^rho with a = hi^(1/rho) tends to hi^(1-r) lo^r, the exponential schedule
    # (beyond the declared rho range, so on the formula itself; the gap shrinks like 1/rho)
    exp = get_sigmas("exponential", 9, sigma_min=lo, sigma_max=hi)
    gap = lambda rho: float(((continuous.karras(9, lo, hi, rho) - exp).abs() / exp.clamp(min=lo)).max())
    assert gap(1e4) < 1e-3 and 50 < gap(1e2) / gap(1e4) < 200


def test_exponential_and_polyexponential():
    s = get_sigmas("exponential", 5, sigma_min=0.1, sigma_max=10.0)
    close(s, [10.0, 10 ** 0.5, 1.0, 10 ** -0.5, 0.1, 0.0])  # log10 sigma: 1, 0.5, 0, -0.5, -1
    close(get_sigmas("polyexponential", 7, sigma_min=0.1, sigma_max=10.0, rho=1.0),
          get_sigmas("exponential", 7, sigma_min=0.1, sigma_max=10.0))
    # rho = 2: log sigma = log lo + r^2 (log hi - log lo), r = 1, 1/2, 0
    close(get_sigmas("polyexponential", 3, sigma_min=0.1, sigma_max=10.0, rho=2.0), [10.0, 0.1 * 100 ** 0.25, 0.1, 0.0])


def test_vp_at_hand_computed_times():
    s = get_sigmas("vp", 3, beta_d=19.9, beta_min=0.1, eps_s=1e-3)
    hand = [math.sqrt(math.exp(19.9 * t * t / 2 + 0.1 * t) - 1) for t in (1.0, (1 + 1e-3) / 2, 1e-3)] + [0.0]
    close(s, hand)
    assert float(s[0]) == pytest.approx(152.0, rel=1e-2)  # the VP-SDE's well-known sigma_max ~ 152


def test_laplace_quantiles_by_hand():
    s = get_sigmas("laplace", 5, sigma_min=0.01, sigma_max=100.0, mu=0.3, beta=0.7)
    # levels x = 0, 1/4, 1/2, 3/4, 1: log sigma = mu -+ beta log(1 - 2|1/2 - x| + 1e-5)
    mid = [math.exp(0.3 - 0.7 * math.log(0.5 + 1e-5)), math.exp(0.3),  # sign(0) = 0 at the median
           math.exp(0.3 + 0.7 * math.log(0.5 + 1e-5))]
    close(s, [100.0, *mid, 0.01, 0.0])  # ends: e^(0.3 +- 0.7 * 11.5) lie outside and clamp


def test_laplace_clamp_repeats_only_the_range_ends():
    s = get_sigmas("laplace", 1000)  # many levels reach past the SD range
    assert (s[1:] <= s[:-1]).all()
    repeated = s[1:][s[1:] == s[:-1]]
    assert len(repeated) > 0 and set(repeated.tolist()) <= {SD_MIN, SD_MAX}


def test_kl_optimal_is_even_in_atan_sigma():
    s = get_sigmas("kl_optimal", 6, sigma_min=0.1, sigma_max=10.0)[:-1]
    d = torch.diff(torch.atan(s))
    close(d, torch.full_like(d, (math.atan(0.1) - math.atan(10.0)) / 5))


def test_beta_schedule_quantiles_in_closed_form():
    lo, hi, steps = 0.1, 10.0, 4
    levels = [1 - i / steps for i in range(steps)]  # ComfyUI: 1, 3/4, 1/2, 1/4 (then the jump to 0)
    log_sigma = lambda t: math.exp(math.log(lo) + t * (math.log(hi) - math.log(lo)))
    # Beta(1, 1) is uniform: t = level
    close(get_sigmas("beta", steps, sigma_min=lo, sigma_max=hi, alpha=1.0, beta=1.0),
          [log_sigma(q) for q in levels] + [0.0])
    # Beta(2, 1) has cdf t^2, so ppf(q) = sqrt(q); Beta(1, 2) has ppf(q) = 1 - sqrt(1 - q)
    close(get_sigmas("beta", steps, sigma_min=lo, sigma_max=hi, alpha=2.0, beta=1.0),
          [log_sigma(math.sqrt(q)) for q in levels] + [0.0])
    close(get_sigmas("beta", steps, sigma_min=lo, sigma_max=hi, alpha=1.0, beta=2.0),
          [log_sigma(1 - math.sqrt(1 - q)) for q in levels] + [0.0])


def test_linear_quadratic_by_hand():
    # steps 4, linear_steps 2, threshold 0.025: removed = 0, 0.0125 (linear), then the quadratic
    # 0.2375 i^2 - 0.9375 i + 0.95 through (2, 0.025) with slope 0.0125 there, reaching (4, 1)
    s = get_sigmas("linear_quadratic", 4, sigma_max=1.0, threshold_noise=0.025, linear_steps=2)
    close(s, [1.0, 0.9875, 0.975, 0.725, 0.0])
    close(get_sigmas("linear_quadratic", 4, sigma_max=2.0, threshold_noise=0.025, linear_steps=2), 2 * s)
    close(get_sigmas("linear_quadratic", 6), get_sigmas("linear_quadratic", 6, linear_steps=3))  # 0 = steps // 2
    close(get_sigmas("linear_quadratic", 1), [1.0, 0.0])


def test_flow_shift_formula_and_inverse():
    base = t64([1.0, 0.75, 0.5, 0.25, 0.0])
    close(get_sigmas("flow", 4, shift=3.0), 3 * base / (1 + 2 * base))
    close(get_sigmas("flow", 4, shift=1.0), base)
    # shifting by s then by 1/s is the identity: (1/s) (s x / d) / (1 + (1/s - 1) s x / d) = x, d = 1 + (s-1) x
    there = SIGMA_TOOLS.get("flow_shift")(get_sigmas("flow", 8, shift=1.0), shift=2.5)
    close(SIGMA_TOOLS.get("flow_shift")(there, shift=1 / 2.5), get_sigmas("flow", 8, shift=1.0), rtol=1e-14, atol=1e-15)


# ---- published tables --------------------------------------------------------------------

def test_ays_native_ten_steps_are_the_published_tables():
    table = discrete.model_sigmas()
    for model in ("sd15", "sdxl"):
        s = get_sigmas("ays", 10, model=model)
        published = tables.AYS_TIMESTEPS[model]
        assert published[0] == 999 and published[-1] == 0
        close(s[:-1], table[published[:-1]])
        assert s[-1] == 0  # the last level (sigma_min) becomes the final 0
    # the same levels, as ComfyUI lists them to 10 digits
    close(get_sigmas("ays", 10, model="sd15")[[1, 2, 9]], [6.4745760956, 3.8636745985, 0.1515232662], rtol=1e-8)
    close(get_sigmas("ays", 10, model="sdxl")[[1, 5, 9]], [6.3184485287, 0.8620721141, 0.1114188177], rtol=1e-8)
    close(get_sigmas("ays", 10, model="svd"), [700.0, 54.5, 15.886, 7.977, 4.248, 1.789, 0.981, 0.403, 0.173, 0.034, 0.0])


def test_ays_interpolates_log_linearly():
    ten = tables.ays_levels("sdxl")
    s = get_sigmas("ays", 20, model="sdxl")
    close(s[0:-1:2], ten[:-1])  # every other point of 21 is a point of the 11-point table
    close(s[1:-1:2], (ten[:-1] * ten[1:]).sqrt())  # and between them the geometric mean
    assert s[-1] == 0


def test_gits_published_values():
    # ComfyUI's GITSScheduler, coefficient 1.20, 10 and 2 steps (SD1.5 noise levels)
    published_10 = [14.61464119, 5.85520077, 2.84484982, 1.67050016, 1.08895338, 0.74807048, 0.50118381,
                    0.32104823, 0.19894916, 0.09824532]
    close(get_sigmas("gits", 10)[:-1], published_10, rtol=5e-5)
    close(get_sigmas("gits", 2), [14.61464119, 0.803307, 0.0], rtol=5e-5)
    for steps in tables.GITS_STEPS:
        levels = tables.gits_levels(steps)
        assert len(levels) == steps + 1 and float(levels[-1]) == pytest.approx(SD_MIN, abs=1e-5)


def test_gits_beyond_the_table_interpolates_the_twenty_step_schedule():
    twenty = tables.gits_levels(20)
    s = get_sigmas("gits", 40)
    close(s[0:-1:2], twenty[:-1])
    close(s[1:-1:2], (twenty[:-1] * twenty[1:]).sqrt())


def test_optimal_steps_equal_comfyuis_namesake():
    # ComfyUI 0.8.0's OptimalStepsScheduler at 7 steps (interpolated) and 10 (FLUX.1's own table), recorded
    close(get_sigmas("optimal_steps", 7, model="flux"), [0.996800005, 0.985723019, 0.975982726, 0.960561812,
                                                        0.924635768, 0.781806052, 0.374913305, 0.0], rtol=1e-7)
    close(get_sigmas("optimal_steps", 7, model="wan"), [1.0, 0.993285477, 0.987571001, 0.977139711, 0.96456331,
                                                       0.919787288, 0.736633241, 0.0], rtol=1e-7)
    close(get_sigmas("optimal_steps", 7, model="chroma"), [0.991999984, 0.974425972, 0.924974024, 0.797200382,
                                                          0.556746602, 0.28686437, 0.1142333, 0.0], rtol=1e-7)
    close(get_sigmas("optimal_steps", 10, model="flux")[:-1], tables.OSS_SIGMAS["flux"][:-1])


def test_published_presets_are_the_tables_they_name():
    for preset, entry in tables.PUBLISHED.items():
        at_own_count = get_sigmas("published", entry.steps, preset=preset)
        method = {"Align Your Steps": "ays", "GITS 1.20": "gits", "Optimal Steps": "optimal_steps"}[entry.method]
        model = {"gits": {}}.get(method, {"model": entry.family.lower().replace("sd1.5", "sd15").split(".")[0]})
        close(at_own_count, get_sigmas(method, entry.steps, **model))
        assert entry.source and len(at_own_count) == entry.steps + 1
    assert {e.family for e in tables.PUBLISHED.values()} >= {"SD1.5", "SDXL", "SVD", "FLUX.1", "Wan"}


# ---- discrete (DDPM family) --------------------------------------------------------------

def test_sd15_table_range():
    table = discrete.model_sigmas("scaled_linear", 1000, 0.00085, 0.012)
    assert float(table[0]) == pytest.approx(SD_MIN, abs=1e-5) and float(table[-1]) == pytest.approx(SD_MAX, abs=1e-5)
    assert (table[1:] > table[:-1]).all()


def test_beta_schedules_by_hand():
    close(discrete.make_betas("linear", 5, 0.1, 0.5), [0.1, 0.2, 0.3, 0.4, 0.5])
    close(discrete.make_betas("scaled_linear", 3, 0.01, 0.09), [0.01, 0.04, 0.09])  # sqrt: 0.1, 0.2, 0.3
    close(discrete.make_betas("sqrt", 3, 0.04, 0.16), [0.2, 0.1 ** 0.5, 0.4])
    ac = discrete.betas_to_alphas_cumprod(t64([0.1, 0.2, 0.5]))
    close(ac, [0.9, 0.72, 0.36])


def test_cosine_alphas_cumprod_follow_iddpm():
    T = 1000
    betas = discrete.make_betas("cosine", T)
    ac = discrete.betas_to_alphas_cumprod(betas)
    f = lambda t: math.cos((t / T + 0.008) / 1.008 * math.pi / 2) ** 2
    for t in (0, 1, 250, 500, 900):  # alphas_cumprod[t] = f(t + 1) / f(0) where no beta was clipped
        assert float(ac[t]) == pytest.approx(f(t + 1) / f(0), rel=1e-10)
    assert float(betas.max()) == 0.999 and float(betas[-1]) == 0.999  # the clip bites at the end


def test_alphas_cumprod_sigma_round_trips():
    ac = discrete.betas_to_alphas_cumprod(discrete.make_betas("linear", 1000, 1e-4, 0.02))
    close(discrete.sigmas_to_alphas_cumprod(discrete.alphas_cumprod_to_sigmas(ac)), ac)
    sigmas = t64([0.01, 1.0, 80.0])
    close(discrete.alphas_cumprod_to_sigmas(discrete.sigmas_to_alphas_cumprod(sigmas)), sigmas)
    close(discrete.alphas_cumprod_to_sigmas(t64([0.5, 0.2])), [1.0, 2.0])  # sqrt(0.5/0.5), sqrt(0.8/0.2)


def test_timestep_sigma_round_trips_and_log_interpolation():
    table = discrete.model_sigmas()
    t = t64([0.0, 0.5, 12.25, 500.5, 998.75, 999.0])
    close(discrete.sigma_to_timestep(discrete.timestep_to_sigma(t, table), table), t, rtol=1e-12, atol=1e-9)
    close(discrete.timestep_to_sigma(t64([0, 7, 999]), table), table[[0, 7, 999]])
    close(discrete.timestep_to_sigma(t64([7.5]), table), (table[7:8] * table[8:9]).sqrt())  # halfway in log sigma
    close(discrete.sigma_to_timestep(table[[3, 400]], table), [3.0, 400.0], atol=1e-9)
    close(discrete.sigma_to_timestep(t64([1e-9, 1e9]), table), [0.0, 999.0])  # clamped to the table
    assert discrete.sigma_to_timestep(table[5:6].float(), table).dtype == torch.float32


def test_timestep_spacings_by_hand():
    T = 1000
    d = discrete
    assert d.normal_timesteps(4, T).tolist() == [999, 666, 333, 0]
    assert d.sgm_uniform_timesteps(3, T).tolist() == [999, 666, 333]
    assert d.simple_timesteps(4, T).tolist() == [999, 749, 499, 249]
    assert d.simple_timesteps(3, T).tolist() == [999, 666, 333]  # 999 - int(i * 333.33)
    assert d.ddim_uniform_timesteps(20, T).tolist() == list(range(951, 0, -50))
    assert d.ddim_uniform_timesteps(7, T).tolist() == [995, 853, 711, 569, 427, 285, 143, 1]  # stride 142
    assert d.leading_timesteps(10, T).tolist() == [901, 801, 701, 601, 501, 401, 301, 201, 101, 1]
    assert d.leading_timesteps(3, T, steps_offset=0).tolist() == [666, 333, 0]
    assert d.trailing_timesteps(10, T).tolist() == [999, 899, 799, 699, 599, 499, 399, 299, 199, 99]
    assert d.trailing_timesteps(7, T).tolist() == [999, 856, 713, 570, 428, 285, 142]  # round(1000 - i*142.857) - 1
    assert d.linspace_timesteps(4, T).tolist() == [999, 666, 333, 0]


@pytest.mark.parametrize("name", SCHEDULES.names("discrete"))
def test_discrete_schedules_read_the_table_at_their_timesteps(name):
    table = discrete.model_sigmas("linear", 1000, 1e-4, 0.02)
    s = get_sigmas(name, 10, beta_schedule="linear", beta_start=1e-4, beta_end=0.02)
    close(s[:-1], discrete.timestep_to_sigma(discrete.SPACINGS[name](10, 1000), table))
    assert s[-1] == 0


# ---- tools -------------------------------------------------------------------------------

def _tool_args(entry, s):
    return (s[:4], s[3:]) if "binary" in entry.tags else (s,)


@pytest.mark.parametrize("entry", list(SIGMA_TOOLS), ids=lambda e: e.name)
def test_tools_leave_their_input_unchanged(entry):
    s = get_sigmas("karras", 6)
    s = s / s[0]  # within [0, 1] so flow_shift applies too
    before = s.clone()
    values = {"step": 2} if entry.name == "split" else {}
    out = entry(*_tool_args(entry, s), **values)
    assert torch.equal(s, before)
    for o in out if isinstance(out, tuple) else (out,):
        assert o.data_ptr() != s.data_ptr() or o.numel() == 0


def test_split_and_splice_are_inverse():
    s = get_sigmas("karras", 10)
    for step in range(11):
        high, low = SIGMA_TOOLS.get("split")(s, step=step)
        assert len(high) == step + 1 and len(low) == 11 - step and high[-1] == low[0] == s[step]
        assert torch.equal(SIGMA_TOOLS.get("splice")(high, low), s)
    # splice of schedules that do not share the join keeps both
    close(tools.splice(t64([5.0, 3.0]), t64([2.0, 0.0])), [5.0, 3.0, 2.0, 0.0])


def test_split_denoise_is_comfyui_split_sigmas_denoise():
    s = get_sigmas("karras", 10)
    high, low = SIGMA_TOOLS.get("split_denoise")(s, denoise=0.3)
    assert torch.equal(low, s[-4:]) and torch.equal(high, s[:-3])  # round(10 * 0.3) = 3 steps in low
    high, low = SIGMA_TOOLS.get("split_denoise")(s, denoise=1.0)
    assert torch.equal(low, s) and torch.equal(high, s[:1])
    high, low = SIGMA_TOOLS.get("split_denoise")(s, denoise=0.0)
    assert torch.equal(low, s[-1:]) and torch.equal(high, s)


def test_flip_as_comfyui():
    s = t64([8.0, 2.0, 0.5, 0.0])
    close(SIGMA_TOOLS.get("flip")(s), [1e-4, 0.5, 2.0, 8.0])
    close(tools.flip(tools.flip(s)), [8.0, 2.0, 0.5, 1e-4])  # flips back (ascending input is allowed)


def test_extend_inserts_log_linear_points_and_keeps_the_originals():
    s = get_sigmas("exponential", 4, sigma_min=0.1, sigma_max=10.0)
    for n in (1, 3):
        ext = SIGMA_TOOLS.get("extend")(s, points=n)
        assert len(ext) == (len(s) - 1) * (n + 1) + 1
        assert torch.equal(ext[:: n + 1], s)  # every original sigma, exactly
        logs = ext[: -(n + 1)].log()  # geometric: equal log steps across the (already geometric) schedule
        close(torch.diff(logs), torch.full((len(logs) - 1,), -math.log(100) / (3 * (n + 1)), dtype=F64), rtol=1e-10)
        close(ext[-(n + 2):], torch.linspace(0.1, 0.0, n + 2, dtype=F64))  # the pair down to 0 is filled linearly
    close(SIGMA_TOOLS.get("extend")(t64([8.0, 2.0, 0.0]), points=1), [8.0, 4.0, 2.0, 1.0, 0.0])
    close(SIGMA_TOOLS.get("extend")(t64([8.0, 2.0]), points=2, mode="linear"), [8.0, 6.0, 4.0, 2.0])


def test_resample_keeps_the_shape_and_both_ends():
    # log sigma of an exponential schedule is linear in the fraction done, which PCHIP reproduces: resampled
    # to any count it is the exponential schedule of that count
    for steps in (3, 10, 25):
        close(tools.resample(get_sigmas("exponential", 10, sigma_min=0.03, sigma_max=14.6), steps),
              get_sigmas("exponential", steps, sigma_min=0.03, sigma_max=14.6), rtol=1e-12)
    close(SIGMA_TOOLS.get("resample")(t64([100.0, 1.0, 0.0]), steps=4), [100.0, 100 ** (2 / 3), 100 ** (1 / 3), 1.0, 0.0])
    for name in ("karras", "normal", "ays"):
        s = get_sigmas(name, 10)
        close(tools.resample(s, 10), s, rtol=1e-12)  # its own count gives it back
        for steps in (1, 4, 50):
            r = tools.resample(s, steps)
            assert len(r) == steps + 1 and r[0] == s[0] and r[-1] == 0 and bool((r[1:] < r[:-1]).all())
            assert steps == 1 or r[-2] == s[-2]  # the last noise level, exactly
    no_zero = get_sigmas("karras", 8)[:-1]
    r = tools.resample(no_zero, 5)
    assert len(r) == 6 and r[0] == no_zero[0] and r[-1] == no_zero[-1]


def test_value_tools():
    s = t64([8.0, 2.0, 0.5, 0.0])
    close(SIGMA_TOOLS.get("multiply")(s, factor=2.0), [16.0, 4.0, 1.0, 0.0])
    close(SIGMA_TOOLS.get("clamp")(s, sigma_min=1.0, sigma_max=4.0), [4.0, 2.0, 1.0, 0.0])
    close(SIGMA_TOOLS.get("truncate")(s, sigma_max=3.0), [2.0, 0.5, 0.0])
    close(SIGMA_TOOLS.get("truncate")(s, steps=2), [8.0, 2.0, 0.5])
    close(SIGMA_TOOLS.get("truncate")(s, sigma_max=3.0, steps=1), [2.0, 0.5])
    close(SIGMA_TOOLS.get("set_first")(s, sigma=9.0), [9.0, 2.0, 0.5, 0.0])
    close(SIGMA_TOOLS.get("flow_shift")(t64([1.0, 0.5, 0.0]), shift=3.0), [1.0, 0.75, 0.0])


# ---- validation --------------------------------------------------------------------------

@pytest.mark.parametrize("name,kwargs,word", [
    ("karras", {"steps": 0}, "steps"),
    ("karras", {"sigma_min": 5.0, "sigma_max": 1.0}, "sigma_min"),
    ("exponential", {"sigma_min": 2.0, "sigma_max": 2.0}, "sigma_max"),
    ("karras", {"sigma_min": -1.0}, "sigma_min"),
    ("kl_optimal", {"sigma_min": 0.0}, "sigma_min"),
    ("karras", {"sigma_max": float("nan")}, "sigma_max"),
    ("karras", {"sigma_max": float("inf")}, "sigma_max"),
    ("karras", {"rho": 0.0}, "rho"),
    ("karras", {"rho": "x"}, "rho"),
    ("vp", {"beta_d": 0.0, "beta_min": 0.0}, "beta_d"),
    ("vp", {"eps_s": 1.0}, "eps_s"),
    ("vp", {"beta_d": 1000.0, "beta_min": 1000.0}, "non-finite"),
    ("linear_quadratic", {"steps": 4, "linear_steps": 4}, "linear_steps"),
    ("linear_quadratic", {"threshold_noise": 0.0}, "threshold_noise"),
    ("flow", {"sigma_max": 0.0}, "sigma_max"),
    ("gits", {"steps": 1}, "steps"),
    ("published", {"steps": 1, "preset": "SD1.5 - GITS 1.20"}, "steps"),
    ("published", {"preset": "SD3 - Optimal Steps"}, "preset"),
    ("ays", {"model": "sd3"}, "model"),
    ("simple", {"steps": 1001}, "steps"),
    ("leading", {"steps": 1000}, "steps"),
    ("normal", {"beta_start": 0.0}, "beta_start"),
    ("normal", {"beta_schedule": "quadratic"}, "beta_schedule"),
])
def test_bad_parameters_are_named(name, kwargs, word):
    params = {"steps": 10, **kwargs}
    with pytest.raises(ValueError, match=word) as err:
        get_sigmas(name, **params)
    assert name in str(err.value)


def test_unknown_schedule_suggests():
    with pytest.raises(KeyError, match="karras"):
        get_sigmas("karas", 10)


@pytest.mark.parametrize("bad,word", [
    (torch.ones(2, 3), "1-D"), ([3.0, 0.0], "1-D"), (t64([0.0, 1.0]), "descending"),
    (t64([float("nan"), 0.0]), "NaN"), (t64([1.0, -1.0]), "negative"),
])
def test_tools_refuse_bad_sigmas(bad, word):
    for entry in SIGMA_TOOLS:
        if entry.name == "flip" and word == "descending":
            continue  # flip takes ascending schedules too
        with pytest.raises(ValueError, match=word) as err:
            entry(*(bad, t64([0.0])) if "binary" in entry.tags else (bad,))
        assert "'sigmas'" in str(err.value)


@pytest.mark.parametrize("call,word", [
    (lambda s: tools.split_at_step(s, 5), "'step'"),
    (lambda s: tools.splice(s, t64([5.0, 0.0])), "'other'"),
    (lambda s: tools.splice(s[:2], t64([9.0, 0.0])), "'other'"),
    (lambda s: tools.set_first(s, 1.0), "'sigma'"),
    (lambda s: tools.multiply(s, 0.0), "'factor'"),
    (lambda s: tools.clamp(s, 3.0, 2.0), "sigma_min"),
    (lambda s: tools.truncate(s, steps=-1), "'steps'"),
    (lambda s: tools.flow_shift(s, 3.0), "'sigmas'"),
    (lambda s: tools.split_at_denoise(s, 1.5), "'denoise'"),
    (lambda s: tools.extend(s, 1, "cubic"), "'mode'"),
    (lambda s: tools.splice(s, t64([[1.0]])), "'other'"),
    (lambda s: tools.resample(s, 0), "'steps'"),
    (lambda s: tools.resample(s[2:], 5), "'sigmas'"),
])
def test_tool_parameters_are_named(call, word):
    s = t64([8.0, 2.0, 0.5, 0.0])
    with pytest.raises(ValueError, match=word):
        call(s)
    assert torch.equal(s, t64([8.0, 2.0, 0.5, 0.0]))


def test_presets_are_valid_ranges():
    assert {"sd15", "sdxl", "edm", "flow", "noisekit-default"} <= set(MODEL_PRESETS)
    for name, p in MODEL_PRESETS.items():
        assert 0 < p["sigma_min"] < p["sigma_max"], name
        get_sigmas("karras", 5, sigma_min=p["sigma_min"], sigma_max=p["sigma_max"])
    assert MODEL_PRESETS["flow"]["sigma_max"] == 1.0 and MODEL_PRESETS["edm"]["sigma_max"] == 80.0
    sd = MODEL_PRESETS["sd15"]
    table = discrete.model_sigmas(sd["beta_schedule"], sd["num_train_timesteps"], sd["beta_start"], sd["beta_end"])
    assert float(table[0]) == pytest.approx(sd["sigma_min"], abs=1e-5)
    assert float(table[-1]) == pytest.approx(sd["sigma_max"], abs=1e-5)
