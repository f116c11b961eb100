"""The web extension in the real ComfyUI frontend, driven in Debian's chromium (skips without them).

Set NOISEKIT_SCREENSHOT to keep the screenshot (README's picture comes from here).
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


# Nodes 2.0 ("Modern Node Design") exists only in newer frontends than the one ComfyUI 0.8.0 pins
MODES = ["classic", "nodes2"] if os.environ.get("NOISEKIT_FRONTEND_ROOT") else ["classic"]


@pytest.fixture(scope="module", params=MODES)
def seen(comfyui, tmp_path_factory, request):
    if not (Path(CHROMIUM).is_file() and shutil.which("node") and (REPO / "node_modules" / "playwright-core").is_dir()):
        pytest.skip("needs Debian's chromium, node and `npm install` (playwright-core)")
    shot = tmp_path_factory.mktemp("browser") / f"comfyui_curves_{request.param}.png"
    out = subprocess.run(["node", str(HERE / "browser_check.mjs"), comfyui.url, str(shot), request.param],
                         capture_output=True, text=True, timeout=240, cwd=REPO)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if os.environ.get("NOISEKIT_SCREENSHOT") and shot.is_file():
        shutil.copy(shot, os.environ["NOISEKIT_SCREENSHOT"])
    assert "failure" not in result, result.get("failure")
    return result


def parse(text):
    return [float(v) for v in text.split(",")]


def test_schedule_curve_redraws_when_steps_change(seen):
    assert seen["karrasBefore"]["points"] == 21
    assert seen["karrasSteps"] == 21 and seen["karrasAfter"]["points"] == 22
    assert seen["karrasAfter"]["sigmas"][0] == pytest.approx(14.614642, rel=1e-6)
    assert seen["karrasAfter"]["sigmas"][-1] == 0
    if seen["mode"] == "nodes2":  # drawn into the widget's own canvas, not only computed
        assert seen["karrasPixels"] > 100 and seen["splitPixels"] > 100 and seen["customPixels"] > 100


def test_final_zero_sits_on_its_own_axis_below_the_curve(seen):
    zero = seen["customZero"]
    assert zero["zero"] and zero["last"] >= zero["lowest"] + 6


def test_edit_the_inputs_curve_is_disabled_without_an_input(seen):
    assert (seen["editDisabledAlone"], seen["editDisabledFed"], seen["editDisabledAgain"]) == (True, False, True)


def test_split_tool_marks_the_split_on_the_incoming_curve(seen):
    assert seen["split"]["mark"] == 5
    assert seen["split"]["sigmas"] == pytest.approx(seen["karrasAfter"]["sigmas"], rel=1e-6)


def test_dragging_a_point_edits_the_custom_sigmas_widget(seen):
    if seen["mode"] == "nodes2":  # and typing a list redraws the curve
        assert seen["customAfterTyping"]["points"] == 11 and seen["customAfterTyping"]["sigmas"][1] == 8
    before, after = parse(seen["customBefore"]), parse(seen["customDragged"])
    assert len(after) == len(before) == 11
    assert before[3] < after[3] < before[2] and after[:3] == before[:3] and after[4:] == before[4:]
    assert all(a >= b for a, b in zip(after, after[1:]))


def test_double_click_adds_a_point_and_the_graph_serialises_plain_numbers(seen):
    if seen["mode"] == "nodes2":
        assert seen["promptSigmas"] == "14.6, 8, 4, 2, 1, 0.5, 0.25, 0.12, 0.06, 0.03, 0"
        return
    added = parse(seen["customAdded"])
    assert len(added) == 12 and all(a >= b for a, b in zip(added, added[1:]))
    assert seen["promptSigmas"] == seen["customAdded"]


def test_runner_reads_the_editor_saved_graph_as_the_frontend_queues_it(seen, tmp_path):
    """The UI workflow the real editor saved converts to exactly the API prompt its graphToPrompt made,
    and `noisekit run` executes it without ComfyUI."""
    from noisekit.runner import default_node_classes, load_prompt

    prompt, _ = load_prompt(seen["workflow"], default_node_classes())
    strip = lambda p: {k: {"class_type": v["class_type"], "inputs": v["inputs"]} for k, v in p.items()}  # noqa: E731
    assert strip(prompt) == strip(seen["prompt"])
    graph = tmp_path / "curves.json"
    graph.write_text(json.dumps(seen["workflow"]))
    without_comfyui = {k: v for k, v in os.environ.items() if k != "NOISEKIT_COMFYUI"}  # else run loads ComfyUI
    run = subprocess.run([sys.executable, "-m", "noisekit.cli", "run", str(graph), "--output-dir", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=120, env=without_comfyui)
    assert run.returncode == 0, run.stderr
    assert len(list((tmp_path / "out").glob("*.png"))) == 1


def test_tune_sigmas_draws_the_levels_its_run_reports_and_feeds_them_on(seen):
    assert seen["tuneBefore"] == {"points": 0, "sigmas": None, "mark": -1}
    assert seen["tuneAfter"]["points"] == 5 and seen["tuneAfter"]["sigmas"] == [14.6, 2.4, 0.38, 0.03, 0]
    assert seen["tuneFed"]["sigmas"] == seen["tuneAfter"]["sigmas"]
    if seen["mode"] == "nodes2":
        assert seen["tunePixels"] > 100


def test_no_errors_from_noisekit(seen):
    """No uncaught exception at all; no console error or failed request of noisekit's (the offline
    frontend itself logs a few: optional user files, fonts from the internet)."""
    assert seen["pageErrors"] == []
    ours = [e for e in seen["errors"] + seen["failedRequests"] if "noisekit" in e.lower()]
    assert ours == [], json.dumps(seen, indent=1)
