"""The web extension, the help pages and the example workflows in the real ComfyUI frontend, driven in Debian's
chromium (skips without them).

Set NOISEKIT_SCREENSHOT=FILE.png to keep the screenshots (README's pictures come from here).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


# Nodes 2.0 ("Modern Node Design") exists only in newer frontends than the one ComfyUI 0.8.0 pins
MODES = ["classic", "nodes2"] if os.environ.get("NOISEKIT_FRONTEND_ROOT") else ["classic"]


def browse(script, *args):
    """Run one of the node scripts here in chromium; the JSON line it printed last."""
    if not (Path(CHROMIUM).is_file() and shutil.which("node") and (REPO / "node_modules" / "playwright-core").is_dir()):
        pytest.skip("needs Debian's chromium, node and `npm install` (playwright-core)")
    out = subprocess.run(["node", str(HERE / script), *map(str, args)], capture_output=True, text=True, timeout=240,
                         cwd=REPO)
    assert out.stdout.strip(), out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module", params=MODES)
def seen(comfyui, tmp_path_factory, request):
    shot = tmp_path_factory.mktemp("browser") / f"comfyui_curves_{request.param}.png"
    result = browse("browser_check.mjs", comfyui.url, shot, request.param)
    keep = os.environ.get("NOISEKIT_SCREENSHOT")  # and, beside it, *_overlay.png: Sigma Plot on flow t
    for made, kept in ((shot, keep), (shot.with_name(shot.stem + "_overlay.png"), keep and keep[:-4] + "_overlay.png")):
        if keep and made.is_file():
            shutil.copy(made, kept)
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


def test_sigma_plot_overlays_its_inputs_live_on_the_chosen_axis(seen):
    """Before the graph runs: Custom Sigmas' and the split's curves, log sigma then flow t = sigma / (1 + sigma)."""
    log, flow, custom = seen["overlayLog"], seen["overlayFlow"], parse(seen["promptSigmas"])
    assert [len(s) for s in log["series"]] == [len(custom), 6]  # the split's high part: steps 0..5
    assert log["series"][0][-1] is None and log["series"][1][-1] is not None  # only a 0 sits on its own line
    assert flow["series"][0][0] == pytest.approx(custom[0] / (1 + custom[0]), rel=1e-5) and flow["series"][0][-1] == 0
    assert len(log["names"]) == 2 and log["ticks"] >= 3


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


def test_set_step_count_resamples_through_the_resample_tools_route(seen):
    """The editor's "set step count" asks the route for the Resample Sigmas tool: its numbers, 6 steps."""
    from noisekit.nodes.server import schedule_curve

    status, body = schedule_curve({"type": "NoisekitSigmasResample", "sigmas": seen["resampleBefore"], "steps": "6"})
    assert status == 200
    assert parse(seen["resampled"]) == pytest.approx(body["sigmas"], rel=1e-5)


def test_no_errors_from_noisekit(seen):
    """No uncaught exception at all; no console error or failed request of noisekit's (the offline
    frontend itself logs a few: optional user files, fonts from the internet)."""
    assert seen["pageErrors"] == []
    ours = [e for e in seen["errors"] + seen["failedRequests"] if "noisekit" in e.lower()]
    assert ours == [], json.dumps(seen, indent=1)


# The help pages (web/docs/<NodeName>.md) and the example workflows' thumbnails, as the frontend fetches and shows
# them: it reads a custom node's page from /extensions/<pack>/docs/<NodeName>.md and resolves a relative picture
# link against /extensions/<pack>/docs/; it lists the pack's example_workflows/*.json from /api/workflow_templates
# and shows /api/workflow_templates/<pack>/<name>.jpg on each card.
EXAMPLES = REPO / "example_workflows"
PICTURE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
HELP_NODE = "NoisekitScheduleKarras"


def fetch(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.status, r.headers.get_content_type(), r.read()


def test_every_nodes_help_page_and_its_pictures_are_served_where_the_frontend_looks(comfyui):
    ours = [name for name, node in comfyui.get("/object_info").items() if node["python_module"] == "custom_nodes.noisekit"]
    assert len(ours) == len(list((REPO / "web" / "docs").glob("*.md")))
    for name in ours:
        status, _, page = fetch(f"{comfyui.url}/extensions/noisekit/docs/{name}.md")
        assert status == 200 and page.decode() == (REPO / "web" / "docs" / f"{name}.md").read_text()
        for link in PICTURE.findall(page.decode()):
            status, kind, _ = fetch(f"{comfyui.url}/extensions/noisekit/docs/{link}")
            assert status == 200 and kind.startswith("image/"), (name, link)


def test_templates_are_the_example_workflows_each_with_its_jpeg_thumbnail(comfyui):
    names = sorted(p.stem for p in EXAMPLES.glob("*.json"))
    assert sorted(comfyui.get("/api/workflow_templates")["noisekit"]) == names
    for name in names:
        status, kind, jpeg = fetch(f"{comfyui.url}/api/workflow_templates/noisekit/{name}.jpg")
        assert status == 200 and kind == "image/jpeg" and jpeg[:3] == b"\xff\xd8\xff", name
        assert comfyui.get(f"/api/workflow_templates/noisekit/{name}.json")["nodes"], name  # a UI graph


@pytest.fixture(scope="module")
def docs_seen(comfyui, tmp_path_factory):
    shots = tmp_path_factory.mktemp("docs")
    result = browse("docs_check.mjs", comfyui.url, shots, HELP_NODE)
    result["shots"] = shots
    return result


def test_node_help_panel_shows_the_page_text_and_its_picture(docs_seen, comfyui):
    """The selection toolbox's info button opens the node's page: its words (the inputs table's names, defaults
    and ranges) and its picture, loaded from the pack's docs folder."""
    assert "helpFailure" not in docs_seen, docs_seen.get("helpFailure")
    assert (docs_seen["shots"] / f"help_{HELP_NODE}.png").is_file()
    page = (REPO / "web" / "docs" / f"{HELP_NODE}.md").read_text()
    shown = docs_seen["help"]["text"]
    assert "Inputs" in shown and "When to use it" in shown
    for row in re.findall(r"^\| `(\w+)` \| (\w+) \| `([^`]+)` \| ([^|]+) \|", page, re.M):
        assert all(word.strip() in shown for word in row), row
    pictures = [f"{comfyui.url}/extensions/noisekit/docs/{link}" for link in PICTURE.findall(page)]
    assert pictures and [img["src"] for img in docs_seen["help"]["images"]] == pictures
    assert all(img["complete"] and img["naturalWidth"] > 0 for img in docs_seen["help"]["images"])


def test_template_browser_shows_each_example_with_its_thumbnail(docs_seen):
    """The noisekit category lists exactly the example workflows, each card with its own JPEG (fetched and
    shown at its size), none with the frontend's placeholder."""
    assert "templatesFailure" not in docs_seen, docs_seen.get("templatesFailure")
    assert (docs_seen["shots"] / "templates.png").is_file()
    cards = {card["name"]: card for card in docs_seen["cards"]}
    assert sorted(cards) == sorted(p.stem for p in EXAMPLES.glob("*.json"))
    for name, card in cards.items():
        with Image.open(EXAMPLES / f"{name}.jpg") as thumbnail:
            assert card["complete"] and card["naturalWidth"] == thumbnail.width, card
    fetched = {t["url"].rsplit("/", 1)[1]: t for t in docs_seen["thumbnails"]}
    assert {f"{name}.jpg" for name in cards} <= set(fetched)
    assert all(t["status"] == 200 and t["type"] == "image/jpeg" for t in fetched.values()), fetched
    assert docs_seen["pageErrors"] == []
