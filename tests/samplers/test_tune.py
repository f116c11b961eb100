"""Tuned levels (samplers/tune.py) judged against the exact ODE on a non-linear problem."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from noisekit import progress
from noisekit.models.analytic import GaussianDenoiser, mixture, mixture_start, rms
from noisekit.samplers import Sampler
from noisekit.samplers import tune
from noisekit.samplers.tune import MAX_STEPS, increments_of, levels_from_increments, teacher_states, tune_sigmas
from noisekit.schedules import get_sigmas

# two tight components in 2-d: a start's end point depends steeply on which one its path falls to
MIXTURE = mixture(2, 8, (0.01, 0.03), seed=1)
TOP, BOTTOM = 14.614642, 0.0291675


def starts(n, seed):
    return mixture_start(MIXTURE, n, TOP, seed=seed)


def exact_error(sampler, sigmas, x):
    return rms(sampler(MIXTURE, x, sigmas, disable=True), MIXTURE.ode_solution(x, TOP, 0.0, 1e-9))


def test_increments_round_trip_any_schedule():
    sigmas = get_sigmas("karras", 7, sigma_min=BOTTOM, sigma_max=TOP)
    assert torch.allclose(levels_from_increments(increments_of(sigmas), TOP, BOTTOM), sigmas, rtol=1e-12, atol=0)
    z = np.array([0.3, -1.0, 2.0])
    levels = levels_from_increments(z, TOP, BOTTOM)
    assert float(levels[0]) == pytest.approx(TOP) and float(levels[-2]) == pytest.approx(BOTTOM)
    for seed in range(5):  # any increments descend, with exactly the given ends
        moved = levels_from_increments(3 * torch.randn(6, generator=torch.Generator().manual_seed(seed)), TOP, BOTTOM)
        assert moved[[0, -2, -1]].tolist() == [TOP, BOTTOM, 0.0] and bool((moved[1:] < moved[:-1]).all())
    steps = np.diff(-np.log(levels[:-1].numpy()))  # softmax(z) of the whole log range
    np.testing.assert_allclose(steps / steps.sum(), np.exp(z) / np.exp(z).sum())


def test_tuned_levels_carry_over_to_other_starts():
    """Tuned on 256 starts (a quarter held out), judged on 256 others against the exact ODE: at 5 calls the error falls by more than
    half (measured 0.52x, fitted on 192 of them)."""
    sampler = Sampler("pc_sigma", order=3)
    given_levels = get_sigmas("exponential", 5, sigma_min=BOTTOM, sigma_max=TOP)
    tuning = tune_sigmas(MIXTURE, starts(256, seed=2), sampler, given_levels)
    assert tuning.error < 0.6 * tuning.start_error and tuning.check_error < tuning.check_start_error
    held_out = starts(256, seed=1)
    assert exact_error(sampler, tuning.sigmas, held_out) < 0.6 * exact_error(sampler, given_levels, held_out)
    assert len(tuning.sigmas) == 6 and float(tuning.sigmas[-1]) == 0
    assert tuning.sigmas[[0, -2]].tolist() == pytest.approx([TOP, BOTTOM])


def test_teacher_is_far_closer_than_any_tuned_student():
    x = starts(256, seed=1)
    sigmas = get_sigmas("exponential", 5, sigma_min=BOTTOM, sigma_max=TOP)
    teacher = rms(teacher_states(MIXTURE, x, sigmas)[-1], MIXTURE.ode_solution(x, TOP, 0.0, 1e-9))
    assert teacher < 0.1 * exact_error(Sampler("pc_sigma", order=3), sigmas, x)


def test_teacher_of_a_flow_model_ends_at_its_closed_form():
    """A rectified-flow Gaussian from t = 1 (pure noise): in log t its ODE has the VE form, so the same solve
    serves; the end is D after the flow down to the model's lowest level."""
    model = GaussianDenoiser(0.3, 0.5, noise_form="flow", sigma_min=1e-3)
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    sigmas = torch.tensor([1.0, 0.6, 0.3, 0.1, 0.02, 0.0], dtype=torch.float64)
    states = teacher_states(model, x, sigmas)
    for level, state in zip(sigmas.tolist()[1:-1], states[1:-1]):
        assert rms(state, model.ode_solution(x, 1.0, level)) < 1e-5
    floor = model.ode_solution(x, 1.0, 1e-3)
    assert rms(states[-1], model(floor, torch.full((64,), 1e-3, dtype=torch.float64))) < 1e-5


def test_a_model_too_rough_for_the_tolerance_gets_a_looser_one(monkeypatch):
    """Each tolerance may take TEACHER_CALLS model calls; past them the next, tenfold looser, is tried, and the
    loosest is not bounded."""
    tried = []
    real = tune.flow_states

    def spy(model, x, path, rtol, max_calls=None):
        tried.append((rtol, max_calls))
        return real(model, x, path, rtol, max_calls)

    monkeypatch.setattr(tune, "flow_states", spy)
    monkeypatch.setattr(tune, "TEACHER_CALLS", 60)
    x = starts(16, seed=1)
    end = teacher_states(MIXTURE, x, get_sigmas("exponential", 5, sigma_min=BOTTOM, sigma_max=TOP))[-1]
    assert [rtol for rtol, _ in tried] == list(tune.TEACHER_RTOLS) and tried[-1][1] is None
    assert all(calls == 60 for _, calls in tried[:-1])
    assert rms(end, MIXTURE.ode_solution(x, TOP, 0.0, 1e-9)) < 0.05


def test_levels_that_only_fit_the_tuning_starts_are_not_returned():
    """Three copies of one start tuned on, another held out: the levels fit the one start to 1e-13, and
    where that makes the held-out start no better, the given levels come back."""
    sampler, given_levels = Sampler("pc_sigma", order=3), get_sigmas("exponential", 5, sigma_min=BOTTOM, sigma_max=TOP)
    first_two = starts(64, seed=2)[:2]
    tuning = tune_sigmas(MIXTURE, torch.cat([first_two[:1].expand(3, 2), first_two[1:]]), sampler, given_levels)
    assert tuning.kept and torch.equal(tuning.sigmas, given_levels)
    assert tuning.error == tuning.start_error and tuning.check_error == tuning.check_start_error
    alone = tune_sigmas(MIXTURE, first_two[:1], sampler, given_levels)  # nothing to hold out: tuned, unchecked
    assert not alone.kept and alone.error < 1e-6 * alone.start_error and math.isnan(alone.check_error)


def test_budget_and_interrupt():
    calls = []

    def model(x, sigma):
        calls.append(1)
        return MIXTURE(x, sigma)

    sigmas = get_sigmas("exponential", 4, sigma_min=BOTTOM, sigma_max=TOP)
    teacher_states(model, starts(8, seed=1), sigmas)
    teacher_calls, held_out_checks = len(calls), 2 * 4
    assert teacher_calls <= tune.TEACHER_CALLS
    tune_sigmas(model, starts(8, seed=1), Sampler("euler"), sigmas, evaluations=30)
    assert len(calls) <= 2 * teacher_calls + 30 * 4 + held_out_checks
    progress.interrupt()
    try:
        with pytest.raises(progress.Interrupted):
            tune_sigmas(model, starts(8, seed=1), Sampler("euler"), sigmas, evaluations=30)
    finally:
        progress.clear_interrupt()


def test_bad_input_is_named():
    x, sigmas = starts(4, seed=1), get_sigmas("karras", 5, sigma_min=BOTTOM, sigma_max=TOP)
    with pytest.raises(ValueError, match="'sampler'.*ODE sampler"):
        tune_sigmas(MIXTURE, x, Sampler("euler_ancestral"), sigmas)
    with pytest.raises(ValueError, match="'sampler' ddim adds noise .eta = 0.5.; set eta to 0"):
        tune_sigmas(MIXTURE, x, Sampler("ddim", eta=0.5), sigmas)
    with pytest.raises(ValueError, match="'sampler'"):
        tune_sigmas(MIXTURE, x, lambda *a, **k: a[1], sigmas)
    with pytest.raises(ValueError, match="'sigmas'.*connect a schedule node"):
        tune_sigmas(MIXTURE, x, Sampler("euler"), sigmas[:-1])  # does not end in 0
    with pytest.raises(ValueError, match="'sigmas'"):
        tune_sigmas(MIXTURE, x, Sampler("euler"), get_sigmas("karras", MAX_STEPS + 1))


def test_starts_beyond_the_memory_budget_are_refused_before_any_work(monkeypatch):
    monkeypatch.setenv("NOISEKIT_MEMORY_BUDGET", "1M")  # (KEEP + 4) x 8x3x64x64 float32 = 3.75 MiB
    calls = []
    sigmas = get_sigmas("karras", 4, sigma_min=BOTTOM, sigma_max=TOP)
    with pytest.raises(ValueError, match=r"tuning sigmas on 8 starts of \(3, 64, 64\) would need about 3.8 MB"):
        tune_sigmas(lambda x, s: calls.append(1) or x, torch.zeros(8, 3, 64, 64), Sampler("euler"), sigmas)
    assert calls == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-5, 50, allow_nan=False), min_size=0, max_size=30))
def test_any_levels_are_tuned_or_refused_by_name(values):
    sigmas = torch.tensor(values, dtype=torch.float64)
    valid = (4 <= len(values) <= MAX_STEPS + 1 and values[-1] == 0
             and all(a > b for a, b in zip(values, values[1:])))
    if valid:
        return  # tuning proper is tested above; here only what is refused
    with pytest.raises(ValueError, match="'sigmas'"):
        tune_sigmas(MIXTURE, starts(2, seed=1), Sampler("euler"), sigmas, evaluations=2)
