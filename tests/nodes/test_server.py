"""The live-curve route as a function: the same numbers as the nodes, clear JSON errors."""
import pytest

from noisekit.nodes.server import MAX_STEPS, plot_curve, presets, schedule_curve
from noisekit.schedules import MODEL_PRESETS, get_sigmas


def test_schedule_node_curve_is_the_registry_schedule():
    status, body = schedule_curve({"type": "NoisekitScheduleKarras", "steps": "9", "sigma_min": "0.05",
                                   "sigma_max": "20", "rho": "5"})
    assert status == 200
    expected = get_sigmas("karras", 9, sigma_min=0.05, sigma_max=20.0, rho=5.0).float().double()
    assert body["sigmas"] == expected.tolist() and body["outputs"] == [body["sigmas"]]


def test_unset_widgets_take_the_node_defaults():
    status, body = schedule_curve({"type": "NoisekitScheduleExponential", "steps": "4"})
    assert status == 200 and len(body["sigmas"]) == 5
    assert body["sigmas"][0] == pytest.approx(14.614642, rel=1e-6)


def test_split_tool_returns_both_parts_of_the_given_curve():
    status, body = schedule_curve({"type": "NoisekitSigmasSplit", "sigmas": "10,5,2,1,0", "step": "2"})
    assert status == 200
    assert body["outputs"] == [[10.0, 5.0, 2.0], [2.0, 1.0, 0.0]]


def test_split_denoise_and_multiply_tools():
    _, body = schedule_curve({"type": "NoisekitSigmasSplitDenoise", "sigmas": "8,4,2,1,0", "denoise": "0.5"})
    high, low = body["outputs"]
    assert high[-1] == low[0] and len(low) == 3
    _, body = schedule_curve({"type": "NoisekitSigmasMultiply", "sigmas": "8,4,0", "factor": "0.5"})
    assert body["sigmas"] == [4.0, 2.0, 0.0]


def test_resample_tool_is_what_the_editors_set_step_count_asks():
    """web/noisekit.js's "set step count" sends the curve and the count to this tool (no formula of its own)."""
    status, body = schedule_curve({"type": "NoisekitSigmasResample", "sigmas": "100,1,0", "steps": "4"})
    assert status == 200
    assert body["sigmas"] == pytest.approx([100.0, 100 ** (2 / 3), 100 ** (1 / 3), 1.0, 0.0], rel=1e-6)
    status, body = schedule_curve({"type": "NoisekitSigmasResample", "sigmas": "5,0", "steps": "4"})
    assert status == 400 and "two noise levels" in body["error"]


def test_splice_takes_both_sigmas_inputs():
    status, body = schedule_curve({"type": "NoisekitSigmasSplice", "sigmas": "8,4,2", "other": "2,1,0"})
    assert status == 200 and body["sigmas"][0] == 8.0 and body["sigmas"][-1] == 0.0


@pytest.mark.parametrize("query, words", [
    ({"type": "NoisekitScheduleKaras"}, ["unknown", "NoisekitScheduleKarras"]),
    ({"type": "NoisekitScheduleKarras", "steps": "abc"}, ["'steps'", "number"]),
    ({"type": "NoisekitScheduleKarras", "steps": str(MAX_STEPS + 1)}, ["'steps'", str(MAX_STEPS)]),
    ({"type": "NoisekitScheduleKarras", "rho": "nan"}, ["'rho'", "finite"]),
    ({"type": "NoisekitScheduleKarras", "sigma_min": "30"}, ["sigma_min"]),
    ({"type": "NoisekitSchedule", "schedule": "nope"}, ["'schedule'", "karras"]),
    ({"type": "NoisekitSigmasSplit", "step": "1"}, ["'sigmas'", "required"]),
    ({"type": "NoisekitSigmasSplit", "sigmas": "3,x", "step": "1"}, ["'sigmas'", "numbers"]),
    ({"type": "NoisekitSigmasSplit", "sigmas": ",".join(["1"] * (MAX_STEPS + 2))}, ["'sigmas'"]),
    ({"type": "NoisekitSigmasFlip", "sigmas": "3,-1"}, ["sigmas", ">= 0"]),
])
def test_bad_queries_get_a_json_error_naming_the_input(query, words):
    status, body = schedule_curve(query)
    assert status == 400 and set(body) == {"error"}
    for word in words:
        assert word in body["error"], body["error"]


def test_presets_are_the_registry_presets():
    status, body = presets({})
    assert status == 200 and body["presets"] == MODEL_PRESETS


def test_plot_overlay_heights_are_the_charts_axis():
    """Sigma Plot's live overlay: log10 sigma over the chart's range; a zero has no height (its own line)."""
    status, body = plot_curve({"sigmas_1": "100,10,1,0", "sigmas_2": "10,0.1,0"})
    assert status == 200 and body["log"] and body["axis"] == "log sigma"
    (first, second), k = body["series"], 1 / 3
    assert first[:3] == pytest.approx([1.0, 2 * k, k]) and second[:2] == pytest.approx([2 * k, 0.0])
    assert first[3] is None and second[2] is None and body["colours"] == ["#1f77b4", "#ff7f0e"]  # the chart's
    ticks = dict((text, f) for f, text in body["ticks"])
    assert ticks["0"] is None and ticks["10"] == pytest.approx(2 * k) and {"0.1", "1", "100"} <= set(ticks)


def test_plot_overlay_flow_t_sets_a_flow_schedule_beside_a_ve_one():
    """t = sigma / (1 + sigma) has the noise-to-signal ratio t / (1 - t) = sigma; a [0, 1] schedule is already t."""
    status, body = plot_curve({"axis": "flow t", "sigmas_1": "3,1,0", "sigmas_2": "0.75,0.5,0"})
    assert status == 200 and body["series"] == [[0.75, 0.5, 0.0], [0.75, 0.5, 0.0]]
    assert body["ticks"][0] == [0.0, "0"] and body["ticks"][-1] == [1.0, "1"]


@pytest.mark.parametrize("query, word", [({"axis": "sigma"}, "sigmas_1"), ({"sigmas_1": "1,x"}, "sigmas_1"),
                                         ({"sigmas_1": "2,1,0", "axis": "time"}, "axis"),
                                         ({"sigmas_1": "0,0"}, "axis sigma")])
def test_plot_overlay_errors_say_what_to_fix(query, word):
    status, body = plot_curve(query)
    assert status == 400 and word in body["error"]
