"""`noisekit test`, `noisekit check` and `noisekit run --over` with a real ComfyUI (skips without one): suite_check.py
runs them in the ComfyUI venv (NOISEKIT_COMFYUI_PYTHON) and reports what it saw."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    checkout = os.environ.get("NOISEKIT_COMFYUI")
    if not checkout or not (Path(checkout) / "main.py").is_file():
        pytest.skip("no real ComfyUI: set NOISEKIT_COMFYUI (and NOISEKIT_COMFYUI_PYTHON) to run these")
    work = tmp_path_factory.mktemp("suite_check")
    (work / "custom_nodes").mkdir()
    shutil.copytree(HERE / "probe_pack", work / "custom_nodes" / "noisekit_probe")
    (work / "custom_nodes" / "noisekit").symlink_to(REPO, target_is_directory=True)
    (work / "pythonpath").mkdir()
    (work / "pythonpath" / "noisekit").symlink_to(REPO, target_is_directory=True)
    python = os.environ.get("NOISEKIT_COMFYUI_PYTHON", sys.executable)
    out = subprocess.run([python, str(HERE / "suite_check.py"), checkout, str(work / "custom_nodes"), str(work)],
                         capture_output=True, text=True, timeout=900, cwd=work,
                         env={**os.environ, "PYTHONPATH": str(work / "pythonpath")})
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_suite_with_comfyui_checks_ui_values_outputs_and_goldens(seen):
    assert seen["record"]["code"] == 0, seen["record"]
    suite = seen["suite"]
    assert suite["code"] == 1 and "=== 1 failed, 2 passed in" in suite["stdout"]
    cases = {os.path.basename(c["name"]): c for c in suite["report"]["cases"]}
    assert cases["exact"]["status"] == "passed" and cases["random"]["status"] == "passed"
    assert cases["exact"]["ui"]["5"]["probe_stats"][0]["shape"] == [1, 4, 8, 8]
    (message,) = cases["wrong_mean"]["messages"]
    assert message.startswith("check ui 5.probe_stats.0.mean = 0.25") and "expected approx 0.5" in message
    assert suite["report"]["comfyui"]["version"]


def test_check_tells_a_missing_checkpoint_from_a_broken_graph(seen):
    check = seen["check"]
    assert check["code"] == 5 and "Traceback" not in check["stderr"]
    (record,) = check["json"]["graphs"]
    assert record["problems"] == []
    (missing,) = record["missing_models"]
    assert (missing["node_id"], missing["input"], missing["folder"], missing["file"]) == \
        ("10", "ckpt_name", "checkpoints", "sd15.safetensors")
    assert any(p.endswith(os.path.join("models", "checkpoints")) for p in missing["looked_in"])
    assert check["json"]["needs"]["missing_models"] == {"checkpoints": ["sd15.safetensors"]}
    packs = check["json"]["needs"]["node_types"]
    assert "KSampler" in packs["ComfyUI"] and "ProbeAnalyticModel" in packs["noisekit_probe"]
    invalid = seen["check_invalid"]
    assert invalid["code"] == 2
    (record,) = invalid["json"]["graphs"]
    assert [(p["node_id"], p["input"], p["type"]) for p in record["problems"]] == [("11", "steps",
                                                                                    "value_smaller_than_min")]
    assert [m["node_id"] for m in record["missing_models"]] == ["10"]


def test_over_with_comfyui_matches_one_by_one_runs_bit_for_bit(seen):
    over = seen["over"]
    assert over["code"] == 0, over["stderr"]
    assert over["alone_codes"] == [0] * 8 and over["items"] == [f"row-{i:05}" for i in range(1, 9)]
    assert over["same"] == 8 and over["distinct"] == 8


def test_over_with_comfyui_records_and_checks_each_inputs_goldens(seen):
    runs = seen["over_golden"]
    verdicts = {kind: {r["key"]: r["verdict"]["status"] for r in run["report"]["items"]} for kind, run in runs.items()}
    rows = ["row-00001", "row-00002", "row-00003"]
    assert runs["record"]["code"] == 0 and verdicts["record"] == dict.fromkeys(rows, "updated"), runs["record"]
    assert runs["check"]["code"] == 0 and verdicts["check"] == dict.fromkeys(rows, "passed"), runs["check"]
    # the saved picture and the latent linked into ProbeLatentStats (an output node that saves no image)
    for record in runs["check"]["report"]["items"]:
        assert sorted(record["verdict"]["outputs"]) == ["5.safetensors", "8_0.png"]
    changed = runs["changed"]
    assert changed["code"] == 4 and verdicts["changed"] == {**dict.fromkeys(rows, "passed"), "row-00002": "failed"}
    assert "row 2: outputs differ from the goldens in" in changed["stderr"] and "8_0.png: psnr" in changed["stderr"]
