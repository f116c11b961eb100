"""How often ``noisekit convert`` gives exactly the prompt the ComfyUI frontend queues, on ComfyUI's official
workflow templates (the comfyui-workflow-templates packages): every template whose node types all exist in the
running ComfyUI (its own nodes; API and custom nodes left out, as ``noisekit run --comfyui`` loads it) is loaded
into the frontend in Debian's chromium and its ``app.graphToPrompt()`` compared, key for key (class_type and
inputs of every node), with the conversion from the server's /object_info.

    pip download --no-deps comfyui-workflow-templates-json && unzip the wheel into DIR
    python main.py --cpu --port 8188 --front-end-root <comfyui-frontend-package>/static   # in ComfyUI
    python bench/convert_templates.py --url http://127.0.0.1:8188 --templates DIR/comfyui_workflow_templates_json/templates

Prints each template that differs (its first differences) and the figure: "N of M exact".
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from noisekit.runner.convert import VIRTUAL, InfoNode, is_ui_workflow, workflow_subgraphs, workflow_to_prompt

HERE = Path(__file__).resolve().parent
OWN = ("nodes", "comfy_extras")  # python_module of ComfyUI's own nodes (not comfy_api_nodes, not custom_nodes)


def comparable(path: Path, info: dict) -> bool:
    """A UI workflow whose node types all exist among ComfyUI's own nodes (subgraphs and virtual nodes aside)."""
    try:
        workflow = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not is_ui_workflow(workflow):
        return False
    subgraphs = {s.get("id") for s in workflow_subgraphs(workflow)}
    types = {n.get("type") for g in [workflow, *workflow_subgraphs(workflow)] for n in g.get("nodes") or []}
    return all(t in VIRTUAL or t in subgraphs or info.get(t, {}).get("python_module", "").split(".")[0] in OWN
               for t in types)


def differences(mine: dict, theirs: dict) -> list[str]:
    out = [f"{k}: only in {'convert' if k in mine else 'the frontend'}" for k in sorted(set(mine) ^ set(theirs))]
    for k in sorted(set(mine) & set(theirs)):
        a, b = mine[k]["inputs"], theirs[k]["inputs"]
        out += [f"{k} {theirs[k]['class_type']}.{n}: convert {a.get(n, '-')!r}, frontend {b.get(n, '-')!r}"
                for n in sorted(set(a) | set(b)) if a.get(n, "-") != b.get(n, "-")]
        if mine[k]["class_type"] != theirs[k]["class_type"]:
            out.append(f"{k}: class_type {mine[k]['class_type']} vs {theirs[k]['class_type']}")
    return out


def strip(prompt: dict) -> dict:
    return {k: {"class_type": v["class_type"], "inputs": v["inputs"]} for k, v in prompt.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="a running ComfyUI, serving the frontend to compare with")
    parser.add_argument("--templates", required=True, type=Path, help="the folder of template .json files")
    args = parser.parse_args(argv)
    with urllib.request.urlopen(args.url + "/object_info", timeout=60) as r:
        info = json.loads(r.read())
    paths = sorted(p for p in args.templates.glob("*.json") if not p.name.startswith("index") and comparable(p, info))
    with tempfile.TemporaryDirectory() as scratch:
        listed, recorded = Path(scratch) / "list.json", Path(scratch) / "prompts.json"
        listed.write_text(json.dumps([str(p) for p in paths]))
        subprocess.run(["node", str(HERE / "record_templates.mjs"), args.url, str(listed), str(recorded)], check=True,
                       cwd=HERE.parent)
        frontend = json.loads(recorded.read_text())
    classes = {name: InfoNode(name, entry) for name, entry in info.items()}
    exact = 0
    for path in paths:
        theirs = frontend["prompts"][str(path)]
        mine = strip(workflow_to_prompt(json.loads(path.read_text(encoding="utf-8")), classes, warn=lambda _: None))
        found = [theirs["failure"]] if "failure" in theirs else differences(mine, strip(theirs))
        exact += not found
        if found:
            print(f"{path.name}: {len(found)} difference(s): " + "; ".join(found[:4]))
    print(f"noisekit convert == graphToPrompt of frontend {frontend.get('frontendVersion')} on {exact} of {len(paths)} "
          "templates whose nodes are all ComfyUI's own")
    return 0


if __name__ == "__main__":
    sys.exit(main())
