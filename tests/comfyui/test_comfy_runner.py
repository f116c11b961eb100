"""`noisekit run --comfyui`: ComfyUI's real nodes and executor in-process, no server (skips without ComfyUI).

comfy_runner_check.py runs in the ComfyUI venv (NOISEKIT_COMFYUI_PYTHON) with ComfyUI loaded once; the graphs
use ComfyUI's core KSampler on the probe pack's analytic model (data ~ N(0.25, std^2)), so with std = 0 every
sampler must give 0.25 everywhere. The live server (conftest's ``comfyui``) is the reference for validation
errors and, through the browser, for graphToPrompt.
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO, PROBE = HERE.parents[1], HERE / "probe_pack"
FIXTURES = REPO / "tests" / "runner" / "fixtures" / "comfyui"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
_spec = importlib.util.spec_from_file_location("comfy_runner_check", HERE / "comfy_runner_check.py")
check_script = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_script)


def _graph(**sampler):
    return check_script.graph(sampler)


INVALID = {  # ComfyUI's own error types for each: its /prompt and the in-process validation must agree
    "out_of_range_and_bad_choice": _graph(steps=0, sampler_name="eulr"),
    "missing_required": {**_graph(), "4": {**_graph()["4"], "inputs": {
        k: v for k, v in _graph()["4"]["inputs"].items() if k != "model"}}},
    "type_mismatch": _graph(latent_image=["1", 0]),
    "bad_literal": _graph(cfg="lots"),
}


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    checkout = os.environ.get("NOISEKIT_COMFYUI")
    if not checkout or not (Path(checkout) / "main.py").is_file():
        pytest.skip("no real ComfyUI: set NOISEKIT_COMFYUI (and NOISEKIT_COMFYUI_PYTHON) to run these")
    work = tmp_path_factory.mktemp("comfy_runner")
    (work / "custom_nodes").mkdir()
    shutil.copytree(PROBE, work / "custom_nodes" / "noisekit_probe")
    shutil.copytree(HERE / "runner_pack", work / "custom_nodes" / "noisekit_runner_pack")
    (work / "custom_nodes" / "noisekit").symlink_to(REPO, target_is_directory=True)  # as installed in ComfyUI
    (work / "pythonpath").mkdir()
    (work / "pythonpath" / "noisekit").symlink_to(REPO, target_is_directory=True)  # import noisekit in that venv
    env = {**os.environ, "PYTHONPATH": str(work / "pythonpath"), "NOISEKIT_INVALID_CASES": json.dumps(INVALID)}
    python = os.environ.get("NOISEKIT_COMFYUI_PYTHON", sys.executable)
    out = subprocess.run([python, str(HERE / "comfy_runner_check.py"), str(checkout), str(work / "custom_nodes"),
                          str(work)], capture_output=True, text=True, timeout=600, env=env, cwd=work)
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def exact(run):
    assert run["code"] == 0, run["stderr"]
    assert run["stats"] and all(s["mean"] == pytest.approx(0.25, abs=1e-5) and s["std"] < 1e-5 for s in run["stats"])


def test_core_graph_runs_in_process_on_the_exact_answer(seen):
    run = seen["api"]
    exact(run)
    assert run["stats"][0]["shape"] == [2, 4, 8, 8]
    assert run["events"][0] == "execution_start" and "progress" in run["events"]
    assert run["events"][-2:] == ["execution_success", "executing"]
    report = run["report"]
    assert report["status"] == "success" and report["comfyui"]["version"] == "0.8.0"
    assert sorted(report["executed"]) == ["1", "2", "3", "4", "5"] and set(report["timings"]) == set(report["executed"])
    assert report["standins"] == [] and report["nodes"]["4"]["type"] == "KSampler"
    exact(seen["ddim_karras_cfg7"])


@pytest.mark.parametrize("name", ["core_ksampler", "subgraph_ksampler", "mixed_samplercustom", "nested_subgraph",
                                  "subgraph_promoted_widget", "group_node"])
def test_ui_workflows_from_the_real_editor_run_and_convert_as_the_frontend_does(seen, name):
    """Core nodes only, a subgraph with a bypassed and a muted node inside, core + noisekit + a third-party
    pack, and nested subgraphs: each runs on the exact answer and converts key for key as graphToPrompt did."""
    exact(seen["ui"][name])
    recorded = json.loads((FIXTURES / "frontend_workflows.json").read_text())["workflows"][name]["prompt"]
    strip = lambda p: {k: {"class_type": v["class_type"], "inputs": v["inputs"]} for k, v in p.items()}  # noqa: E731
    assert strip(seen["convert"][name]) == strip(recorded)


@pytest.mark.parametrize("name", ["dynamic_combo", "v3_runner_pack", "autogrow", "older_save", "extra_values",
                                  "colliding_ids", "legacy_promoted_widget"])
def test_workflows_from_the_newest_frontend_run_and_convert_as_it_does(seen, name):
    """V3 inputs, an older save, extra values, colliding subgraph ids and a subgraph node saved before proxyWidgets,
    recorded in frontend 1.58.1: each runs in ComfyUI (PreviewImage and MaskPreview too, from a folder with no
    input/) and converts with ComfyUI's own INPUT_TYPES key for key as its graphToPrompt did."""
    run = seen["ui_v3"][name]
    assert run["code"] == 0, run["stderr"]
    if name in ("v3_runner_pack", "colliding_ids", "legacy_promoted_widget"):
        exact(run)  # the analytic model's 0.25 through the V3 node's nested DynamicCombo and Autogrow
    recorded = json.loads((FIXTURES / "frontend_v3_workflows.json").read_text())["workflows"][name]["prompt"]
    strip = lambda p: {k: {"class_type": v["class_type"], "inputs": v["inputs"]} for k, v in p.items()}  # noqa: E731
    assert strip(seen["convert"][f"v3_{name}"]) == strip(recorded)


def test_convert_and_run_need_no_input_folder_where_they_run(seen):
    assert seen["convert"]["load_image"]["1"]["inputs"] == {"image": "x.png"}
    previews = seen["ui_v3"]["dynamic_combo"]["report"]
    assert previews["status"] == "success" and {"5", "7"} <= set(previews["executed"])  # PreviewImage, MaskPreview


def test_invalid_graph_lists_every_problem_with_comfyuis_error_types(seen):
    run = seen["invalid"]
    assert run["code"] == 2 and run["report"]["status"] == "invalid"
    assert sorted((e["node_id"], e["input"], e["type"]) for e in run["report"]["errors"]) == [
        ("4", "sampler_name", "value_not_in_list"), ("4", "steps", "value_smaller_than_min"),
        ("6", None, "invalid_prompt")]  # ComfyUI itself would stop at the unknown node
    assert "NoSuchNode" in run["stderr"]


def test_a_link_of_the_wrong_type_is_refused_before_anything_runs(seen):
    mistyped = seen["mistyped"]
    assert mistyped["code"] == 2 and mistyped["report"]["executed"] == []
    assert [(e["node_id"], e["input"], e["type"]) for e in mistyped["report"]["errors"]] == \
        [("4", "latent_image", "return_type_mismatch")]


def test_a_v3_third_party_node_runs_with_core_noisekit_and_probe_nodes(seen):
    run = seen["v3_pack"]
    assert run["code"] == 0, run["stderr"]
    assert run["stats"][0]["mean"] == pytest.approx(0.5, abs=1e-5)  # 2 x the exact 0.25


def test_a_node_refusing_its_input_is_named_and_exits_2(seen):
    """A node's ValueError naming its input is a refused value (exit 2, as without ComfyUI), not exit 3."""
    failed = seen["failed"]
    assert failed["code"] == 2 and failed["report"]["status"] == "invalid"
    error = failed["report"]["errors"][0]
    assert (error["node_id"], error["node_type"], error["input"], error["type"]) == \
        ("6", "RunnerPackFail", "latent", "ValueError")
    assert "execution_error" in failed["events"] and "4" in failed["report"]["executed"]
    assert "node 6 (RunnerPackFail) failed" in failed["stderr"]


def test_golden_checks_with_comfyui(seen):
    record, same, seed = seen["golden"]
    assert record["code"] == 0 and list(record["report"]["hashes"]) == ["5.safetensors"]
    assert same["code"] == 0 and same["report"]["golden"]["status"] == "passed"
    assert same["report"]["hashes"] == record["report"]["hashes"]
    assert seed["code"] == 4 and seed["report"]["golden"]["status"] == "failed"


def test_models_dir_is_where_comfyuis_loaders_look(seen):
    """A missing model file is told apart from a broken graph, with the folders it was looked for in; a zero-byte
    placeholder found in --models-dir is refused naming the node, the input and the file, not a bare
    SafetensorError."""
    nowhere, there = seen["models"]
    assert nowhere["code"] == 2
    (error,) = nowhere["report"]["errors"]
    assert (error["node_id"], error["input"], error["type"]) == ("1", "ckpt_name", "model_file_missing")
    assert "'fake.safetensors' is not in checkpoints; looked in " in error["message"]
    assert os.path.join(os.environ["NOISEKIT_COMFYUI"], "models", "checkpoints") in error["message"]
    assert there["code"] == 2, there["stderr"]
    (error,) = there["report"]["errors"]
    assert (error["node_id"], error["node_type"], error["input"]) == ("1", "CheckpointLoaderSimple", "ckpt_name")
    assert "fake.safetensors (0 bytes) cannot be read (SafetensorError" in error["message"]


def test_comfyuis_saveimage_writes_into_the_output_dir_with_the_graph(seen):
    from PIL import Image

    run = seen["save"]
    assert run["code"] == 0, run["stderr"]
    (path,) = run["report"]["outputs"]
    assert Path(path).name == "nk_00001_.png" and Path(path).parent.name == "out"
    png = Image.open(path)
    assert png.getpixel((5, 5)) == (0x33, 0x66, 0x99)
    assert json.loads(png.info["prompt"])["2"]["class_type"] == "SaveImage"  # hidden PROMPT input
    assert list(run["report"]["hashes"]) == ["2_0.png"]


def test_stop_request_interrupts_comfyuis_sampler_between_steps(seen):
    run = seen["interrupted"]
    assert run["code"] == 130 and run["report"]["status"] == "interrupted", run["stderr"]
    assert run["report"]["errors"][0]["node_id"] == "4" and "execution_interrupted" in run["events"]


def test_noisekit_is_loaded_once_though_it_is_in_custom_nodes_too(seen):
    assert seen["once"] == {"same_classes": True, "second_copies": []}
    assert not [f for f in seen["info"]["import_failed"] if "custom_nodes" in f]  # every pack imported


def test_a_rerun_is_cached_in_the_runner_as_in_comfyui(seen):
    cache = seen["cache"]
    assert sorted(cache["first"]) == ["1", "2", "3", "4", "5"]
    assert cache["again"] == [] and sorted(cache["again_cached"]) == ["1", "2", "3", "4", "5"]
    assert sorted(cache["changed"]) == ["4", "5"]  # only the sampler whose seed changed, and what it feeds


def post_prompt(server, prompt) -> tuple[int, dict]:
    body = json.dumps({"prompt": prompt, "client_id": uuid.uuid4().hex}).encode()
    request = urllib.request.Request(server.url + "/prompt", data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.mark.parametrize("case", sorted(INVALID))
def test_validation_gives_the_node_errors_of_comfyuis_prompt_endpoint(seen, comfyui, case):
    status, answer = post_prompt(comfyui, INVALID[case])
    assert status == 400 and answer["node_errors"]
    # ComfyUI checks a node's inputs in set order, which differs between processes: compare as sets
    in_order = lambda errors: {n: {**e, "errors": sorted(e["errors"], key=json.dumps)}  # noqa: E731
                               for n, e in errors.items()}
    assert in_order(seen["node_errors"][case]) == in_order(answer["node_errors"])


def test_conversion_equals_the_live_frontend(comfyui):
    """Builds the workflows again in the running frontend: noisekit's conversion (with the server's /object_info)
    gives what its graphToPrompt gives, and the fixtures CI uses are still what it makes."""
    from noisekit.runner.convert import InfoNode, workflow_to_prompt

    if not (Path(CHROMIUM).is_file() and shutil.which("node") and (REPO / "node_modules" / "playwright-core").is_dir()):
        pytest.skip("needs Debian's chromium, node and `npm install` (playwright-core)")
    if os.environ.get("NOISEKIT_FRONTEND_ROOT"):
        pytest.skip("the fixtures are the graphToPrompt of the frontend ComfyUI 0.8.0 pins (1.35); newer frontends "
                    "have no group nodes (Comfy.GroupNode.* commands are gone), so this test runs on the pinned one")
    out = subprocess.run(["node", str(HERE / "record_workflows.mjs"), comfyui.url], capture_output=True, text=True,
                         timeout=300, cwd=REPO)
    live = json.loads(out.stdout.strip().splitlines()[-1])
    assert "failure" not in live, live.get("failure")
    classes = {name: InfoNode(name, info) for name, info in comfyui.get("/object_info").items()}
    recorded = json.loads((FIXTURES / "frontend_workflows.json").read_text())["workflows"]
    strip = lambda p: {k: {"class_type": v["class_type"], "inputs": v["inputs"]} for k, v in p.items()}  # noqa: E731
    for workflow in live["workflows"]:
        assert strip(workflow_to_prompt(workflow["workflow"], classes)) == strip(workflow["prompt"]), workflow["name"]
        assert strip(recorded[workflow["name"]]["prompt"]) == strip(workflow["prompt"]), workflow["name"]


def test_conversion_equals_the_newest_live_frontend(comfyui):
    """Builds the V3 and older-save workflows again in the newest frontend (NOISEKIT_FRONTEND_ROOT, e.g. 1.58):
    noisekit's conversion with the server's /object_info gives what its graphToPrompt gives, and the fixtures CI
    uses are still what it makes."""
    from noisekit.runner.convert import InfoNode, workflow_to_prompt

    if not (Path(CHROMIUM).is_file() and shutil.which("node") and (REPO / "node_modules" / "playwright-core").is_dir()):
        pytest.skip("needs Debian's chromium, node and `npm install` (playwright-core)")
    if not os.environ.get("NOISEKIT_FRONTEND_ROOT"):
        pytest.skip("V3 dynamic inputs need a newer frontend than the 1.35 ComfyUI 0.8.0 pins: set "
                    "NOISEKIT_FRONTEND_ROOT to comfyui-frontend-package 1.58's static/ folder")
    out = subprocess.run(["node", str(HERE / "record_v3_workflows.mjs"), comfyui.url], capture_output=True, text=True,
                         timeout=300, cwd=REPO)
    live = json.loads(out.stdout.strip().splitlines()[-1])
    assert "failure" not in live and live["pageErrors"] == [], live.get("failure") or live["pageErrors"]
    classes = {name: InfoNode(name, info) for name, info in comfyui.get("/object_info").items()}
    recorded = json.loads((FIXTURES / "frontend_v3_workflows.json").read_text())["workflows"]
    strip = lambda p: {k: {"class_type": v["class_type"], "inputs": v["inputs"]} for k, v in p.items()}  # noqa: E731
    assert [w["name"] for w in live["workflows"]] == list(recorded)
    for workflow in live["workflows"]:
        assert strip(workflow_to_prompt(workflow["workflow"], classes, warn=lambda _: None)) == \
            strip(workflow["prompt"]), workflow["name"]
        assert strip(recorded[workflow["name"]]["prompt"]) == strip(workflow["prompt"]), workflow["name"]
