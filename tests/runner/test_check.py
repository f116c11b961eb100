"""`noisekit check`: validation without running, missing model files apart from graph errors, and the JSON list
of what the graphs need; `noisekit run --report` carries every output node's ui dict; `scripts/gpu_check.sh`
without a GPU."""
import json
import os
import re
import subprocess
import sys

import pytest

from noisekit.cli import main
from noisekit.exits import EXIT_INVALID, EXIT_MODELS_MISSING, EXIT_OK
from noisekit.models import loader

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "example_workflows")
# the examples that load the bundled model, and the id of their Load Model node
LOADERS = {"denoise_photo": "2", "generate_ddpm_ddim_euler": "1", "inpaint_photo": "3"}


@pytest.fixture
def no_models(tmp_path, monkeypatch):
    """The bundled weights' folder emptied: the names point into an empty folder."""
    empty = tmp_path / "weights"
    empty.mkdir()
    monkeypatch.setattr(loader, "BUNDLED", {k: str(empty / os.path.basename(v)) for k, v in loader.BUNDLED.items()})
    return empty


def test_examples_are_valid_and_need_the_bundled_model(capsys):
    assert main(["check", EXAMPLES]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == "=== 5 graph(s): 5 valid, 0 missing model files, 0 invalid ==="


def test_missing_models_are_listed_by_node_and_input_with_their_own_exit_code(no_models, capsys):
    assert main(["check", EXAMPLES]) == EXIT_MODELS_MISSING
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    for name, node in LOADERS.items():
        assert re.search(rf"{name}\.json: valid, but 1 model file\(s\) missing\n  - node {node} \(NoisekitLoadModel\), "
                         rf"input 'model_name': model file 'noisekit-default' \(noisekit\) is not in {no_models}",
                         captured.out), name
    assert "=== 5 graph(s): 2 valid, 3 missing model files, 0 invalid ===" in captured.out


def test_json_lists_what_the_graphs_need(no_models, capsys):
    assert main(["check", EXAMPLES, "--json"]) == EXIT_MODELS_MISSING
    data = json.loads(capsys.readouterr().out)
    assert data["needs"]["models"] == {"noisekit": ["noisekit-default"]}
    assert data["needs"]["missing_models"] == {"noisekit": ["noisekit-default"]}
    assert data["needs"]["node_types"]["ComfyUI"] == ["LoadImage", "LoadImageMask", "SaveImage"]
    assert "NoisekitLoadModel" in data["needs"]["node_types"]["noisekit"]
    missing = {(g["graph"], m["node_id"], m["input"], tuple(m["looked_in"])) for g in data["graphs"]
               for m in g["missing_models"]}
    assert missing == {(os.path.join(EXAMPLES, f"{n}.json"), i, "model_name", (str(no_models),))
                       for n, i in LOADERS.items()}


def test_a_broken_graph_is_told_apart_from_a_missing_model(no_models, tmp_path, capsys):
    with open(os.path.join(EXAMPLES, "api", "generate_ddpm_ddim_euler.json")) as f:
        graph = json.load(f)
    graph["2"]["inputs"]["steps"] = -1
    graph["12"] = {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}}
    graph["13"] = {"class_type": "SaveImage", "inputs": {"images": ["12", 0], "filename_prefix": "x"}}
    (tmp_path / "broken.json").write_text(json.dumps(graph))
    assert main(["check", str(tmp_path / "broken.json"), "--json"]) == EXIT_INVALID
    (record,) = json.loads(capsys.readouterr().out)["graphs"]
    assert {(p["node_id"], p["input"], p["type"]) for p in record["problems"]} == {
        ("2", "steps", "value_smaller_than_min"), ("12", None, "invalid_prompt")}
    assert [(m["node_id"], m["input"]) for m in record["missing_models"]] == [("1", "model_name")]
    assert record["node_types"]["CheckpointLoaderSimple"] == "ComfyUI"


def test_run_report_carries_every_output_nodes_ui(tmp_path):
    report = tmp_path / "r.json"
    graph = os.path.join(EXAMPLES, "api", "schedule_comparison.json")
    assert main(["run", graph, "--output-dir", str(tmp_path / "out"), "--report", str(report)]) == EXIT_OK
    ui = json.loads(report.read_text())["ui"]
    (image,) = ui["6"]["images"]
    assert image["type"] == "output" and (tmp_path / "out" / image["subfolder"] / image["filename"]).is_file()


def test_gpu_check_without_a_gpu_says_so_and_exits_0():
    script = os.path.join(ROOT, "scripts", "gpu_check.sh")
    out = subprocess.run(["bash", script], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "CUDA_VISIBLE_DEVICES": "", "PATH": os.path.dirname(sys.executable)
                              + os.pathsep + os.environ.get("PATH", "")})
    assert out.returncode == 0, out.stderr
    assert re.fullmatch(r"gpu_check: no CUDA GPU here \(torch \S+ sees none\): nothing to check\n", out.stdout)
    # the GPU part, which CI cannot run, at least compiles
    body = open(script).read()
    compile(body[body.index("<<'PY'\n") + 7:body.rindex("\nPY\n")], "gpu_check.sh (python)", "exec")
