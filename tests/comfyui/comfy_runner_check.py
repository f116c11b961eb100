"""Drives `noisekit run --comfyui` in one process of a ComfyUI venv and prints one JSON line of what it saw;
tests/comfyui/test_comfy_runner.py runs it (ComfyUI loads once, ~20 s) and asserts on it.

usage: python comfy_runner_check.py COMFYUI_PATH CUSTOM_NODES_DIR WORK_DIR
"""
import contextlib
import io
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parents[1] / "tests" / "runner" / "fixtures" / "comfyui"


def graph(sampler_inputs=None, std=0.0) -> dict:
    """ComfyUI's KSampler on the analytic model (data ~ N(0.25, std^2)), stats of the result."""
    return {
        "1": {"class_type": "ProbeAnalyticModel", "inputs": {"target": 0.25, "data_std": std, "channels": 4}},
        "2": {"class_type": "ProbeConditioning", "inputs": {}},
        "3": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 2}},
        "4": {"class_type": "KSampler", "inputs": {
            "model": ["1", 0], "seed": 42, "steps": 10, "cfg": 1.0, "sampler_name": "euler", "scheduler": "karras",
            "positive": ["2", 0], "negative": ["2", 0], "latent_image": ["3", 0], "denoise": 1.0,
            **(sampler_inputs or {})}},
        "5": {"class_type": "ProbeLatentStats", "inputs": {"latent": ["4", 0]}},
    }


def main():
    comfyui, custom_nodes, work = sys.argv[1:4]
    work = Path(work)
    from noisekit.cli import main as noisekit

    def run(name, data, *flags):
        path = work / f"{name}.json"
        path.write_text(json.dumps(data))
        report = work / f"{name}.report.json"
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = noisekit(["run", str(path), "--comfyui", comfyui, "--custom-nodes", custom_nodes,
                             "--output-dir", str(work / "out"), "--report", str(report), "--json-progress", *flags])
        events = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
        stats = [e["data"]["output"]["probe_stats"][0] for e in events
                 if e["type"] == "executed" and "probe_stats" in (e["data"].get("output") or {})]
        return {"code": code, "stderr": err.getvalue()[-3000:], "events": [e["type"] for e in events],
                "stats": [{k: s[k] for k in ("mean", "std", "shape")} for s in stats],
                "report": json.loads(report.read_text()) if report.exists() else None}

    recorded = json.loads((FIXTURES / "frontend_workflows.json").read_text())["workflows"]
    newest = json.loads((FIXTURES / "frontend_v3_workflows.json").read_text())["workflows"]
    assert not (Path.cwd() / "input").exists()  # ComfyUI's input folder is not taken from where the command runs
    seen = {"api": run("api", graph()),
            "ddim_karras_cfg7": run("ddim", graph({"sampler_name": "ddim", "cfg": 7.0})),
            "ui": {name: run(name, wf["workflow"]) for name, wf in recorded.items()},
            "ui_v3": {name: run(f"v3_{name}", wf["workflow"]) for name, wf in newest.items()},
            "invalid": run("invalid", {**graph({"steps": 0, "sampler_name": "eulr"}),
                                       "6": {"class_type": "NoSuchNode", "inputs": {}}}),
            "mistyped": run("mistyped", graph({"latent_image": ["1", 0]})),
            "v3_pack": run("v3_pack", {**graph(), "6": {"class_type": "RunnerPackScaleLatent",
                                                        "inputs": {"latent": ["4", 0], "factor": 2.0}},
                                       "5": {"class_type": "ProbeLatentStats", "inputs": {"latent": ["6", 0]}}}),
            "failed": run("failed", {**graph(), "6": {"class_type": "RunnerPackFail", "inputs": {"latent": ["4", 0]}},
                                     "5": {"class_type": "ProbeLatentStats", "inputs": {"latent": ["6", 0]}}})}
    goldens = str(work / "golden")
    seen["golden"] = [run("golden_record", graph(std=0.5), "--golden", goldens, "--update-golden"),
                      run("golden_same", graph(std=0.5), "--golden", goldens),
                      run("golden_seed", graph({"seed": 43}, std=0.5), "--golden", goldens)]

    (work / "models" / "checkpoints").mkdir(parents=True)
    (work / "models" / "checkpoints" / "fake.safetensors").write_bytes(b"")  # a placeholder, as CI caches make
    checkpoint = {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "fake.safetensors"}},
                  "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}}
    seen["models"] = [run("no_models_dir", checkpoint),
                      run("models_dir", checkpoint, "--models-dir", str(work / "models"))]

    image = {"1": {"class_type": "EmptyImage", "inputs": {"width": 32, "height": 16, "batch_size": 1, "color": 0x336699}},
             "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "nk"}}}
    seen["save"] = run("save", image, "--golden", str(work / "golden_image"), "--update-golden")

    import threading

    from noisekit import progress

    threading.Timer(3.0, progress.interrupt).start()  # as the first Ctrl-C does
    seen["interrupted"] = run("interrupted", graph({"steps": 9999}))

    # conversion with ComfyUI's own INPUT_TYPES; LoadImage lists an input folder, which is not ./input
    load_image = {"nodes": [{"id": 1, "type": "LoadImage", "widgets_values": ["x.png", "image"],
                             "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [1]}]},
                            {"id": 2, "type": "PreviewImage", "inputs": [{"name": "images", "type": "IMAGE", "link": 1}]}],
                  "links": [[1, 1, 0, 2, 0, "IMAGE"]]}
    seen["convert"] = {}
    for name, wf in [*recorded.items(), *((f"v3_{n}", w) for n, w in newest.items()),
                     ("load_image", {"workflow": load_image})]:
        path = work / f"{name}.workflow.json"
        path.write_text(json.dumps(wf["workflow"]))
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = noisekit(["convert", str(path), "--comfyui", comfyui])
        seen["convert"][name] = json.loads(out.getvalue()) if code == 0 else err.getvalue()

    # ComfyUI's validation, and its cache kept in one runner
    from noisekit.runner.comfy_runner import ComfyRunner

    runner = ComfyRunner(comfyui)
    cases = json.loads(os.environ.get("NOISEKIT_INVALID_CASES", "{}"))
    seen["node_errors"] = {name: runner.validate(prompt)[1] for name, prompt in cases.items()}
    first, again = runner.run(graph({"seed": 7})), runner.run(graph({"seed": 7}))
    changed = runner.run(graph({"seed": 8}))
    seen["cache"] = {"first": first.executed, "again": again.executed, "again_cached": again.cached,
                     "changed": changed.executed}
    seen["info"] = runner.info
    import nodes as comfy_nodes  # ComfyUI's registry, as loaded above

    from noisekit.nodes import NODE_CLASS_MAPPINGS as ours

    seen["once"] = {"same_classes": all(comfy_nodes.NODE_CLASS_MAPPINGS.get(k) is v for k, v in ours.items()),
                    "second_copies": sorted(m for m in sys.modules if m.endswith(os.sep + "noisekit"))}
    print(json.dumps(seen, default=repr))


if __name__ == "__main__":
    main()
