"""``noisekit check PATH...``: every graph validated, nothing run, and what the graphs need to run: model files
(by folder) and node types (with the pack that provides each, where known).

A missing model file is told apart from a broken graph: a model input (noisekit's Load Model, and with ComfyUI
every loader whose choices are a model folder's files, a pack's too) whose file is not where the loader looks is reported with the node, the input, the file
and the folders looked in, and ComfyUI's own "value not in list" for such an input (its folder is empty or lacks
the file) becomes that report, not a graph problem.
"""
from __future__ import annotations

import os

from ..models import loader
from .core_nodes import core_node_names
from .load import load_graph
from .outcome import GraphFormatError
from .validate import ancestors, check_graph, output_nodes

NOISEKIT_FOLDER = "noisekit"  # the bundled weights: models/weights/ in noisekit's install
NOISEKIT_MODEL_INPUTS = {"NoisekitLoadModel": {"model_name": [NOISEKIT_FOLDER]}}


def model_inputs(kind: str, engine, comfyui: bool) -> dict:
    """input name -> the model folders its files come from: noisekit's loader, and with ComfyUI every loader it
    has (core or a pack's), as the engine finds them (runner/comfyui.py's model_folders)."""
    if kind in NOISEKIT_MODEL_INPUTS:
        return NOISEKIT_MODEL_INPUTS[kind]
    return engine.model_inputs(kind) if comfyui else {}


def find_model(folders: list[str], name: str) -> tuple[str | None, list[str]]:
    """(the file the loader would read or None, the directories it looks in)."""
    if folders == [NOISEKIT_FOLDER]:  # a name not bundled is a wrong value, which validation reports
        path = loader.BUNDLED.get(name)
        return (path if path and os.path.isfile(path) else None), [os.path.dirname(path) if path else loader.WEIGHTS_DIR]
    import folder_paths

    found = next((p for folder in folders if (p := folder_paths.get_full_path(folder, name))), None)
    return found, [d for folder in folders for d in folder_paths.get_folder_paths(folder)]


def model_needs(prompt: dict, scope: set, engine, comfyui: bool) -> list[dict]:
    """Every model file the nodes in ``scope`` load, with ``present`` and where it was looked for."""
    needs = []
    for node_id in sorted(scope, key=lambda n: (len(n), n)):
        node = prompt[node_id]
        for name, folders in model_inputs(node.get("class_type"), engine, comfyui).items():
            value = node.get("inputs", {}).get(name)
            if not isinstance(value, str):
                continue  # linked, or absent: validation says so
            if folders == [NOISEKIT_FOLDER] and value not in loader.BUNDLED:
                continue  # a wrong value: validation reports it
            path, looked_in = find_model(folders, value)
            needs.append({"node_id": node_id, "node_type": node["class_type"], "input": name,
                          "folder": " or ".join(folders), "file": value, "present": path is not None,
                          "looked_in": looked_in})
    return needs


def pack_of(kind: str, node_classes: dict) -> str | None:
    """The pack that provides a node type: noisekit, ComfyUI (its core nodes), a custom node folder, or None."""
    cls = node_classes.get(kind)
    module = getattr(cls, "RELATIVE_PYTHON_MODULE", None) or getattr(cls, "__module__", "") or ""
    if cls is not None and module.startswith("custom_nodes."):
        return module.split(".")[1]
    if cls is not None and module.split(".")[0] == "noisekit":
        return "ComfyUI" if getattr(cls, "STANDIN", False) else "noisekit"
    if cls is not None or kind in core_node_names():
        return "ComfyUI"
    return None


def check_one(path: str, engine) -> dict:
    """One graph's verdict: ``problems`` (its graph errors), ``missing_models``, and what it needs."""
    record = {"graph": path, "problems": [], "missing_models": [], "models": [], "node_types": {}}
    try:
        prompt, _ = load_graph(path, engine.node_classes)
    except (GraphFormatError, ValueError, OSError) as e:
        record["problems"].append({"node_id": None, "node_type": None, "input": None, "type": "invalid_graph",
                                   "message": str(e)})
        return with_status(record)
    comfyui = bool(engine.info)
    scope = ancestors(prompt, output_nodes(prompt, engine.node_classes)) or set(prompt)
    needs = model_needs(prompt, scope, engine, comfyui)
    missing = {(n["node_id"], n["input"]) for n in needs if not n["present"]}
    problems = engine.validate(prompt)[0] if comfyui else check_graph(prompt, engine.node_classes)[0]
    record["problems"] = [p.to_dict() for p in problems if (p.node_id, p.input) not in missing]
    record["missing_models"] = [n for n in needs if not n["present"]]
    record["models"] = needs
    record["node_types"] = {kind: pack_of(kind, engine.node_classes)
                            for kind in sorted({prompt[n].get("class_type") for n in scope} - {None}, key=str)}
    return with_status(record)


def with_status(record: dict) -> dict:
    record["status"] = "invalid" if record["problems"] else "models_missing" if record["missing_models"] else "valid"
    return record


def needs_of(records: list[dict]) -> dict:
    """What the graphs need together: model files by folder (missing ones apart), node types by pack."""
    models, missing, packs = {}, {}, {}
    for record in records:
        for need in record["models"]:
            models.setdefault(need["folder"], set()).add(need["file"])
            if not need["present"]:
                missing.setdefault(need["folder"], set()).add(need["file"])
        for kind, pack in record["node_types"].items():
            packs.setdefault(pack or "unknown", set()).add(kind)
    return {"models": {f: sorted(v) for f, v in sorted(models.items())},
            "missing_models": {f: sorted(v) for f, v in sorted(missing.items())},
            "node_types": {p: sorted(v) for p, v in sorted(packs.items())}}


def describe(record: dict) -> list[str]:
    """The lines the terminal shows for one graph."""
    lines = []
    for p in record["problems"]:
        where = "graph" if p["node_id"] is None else f"node {p['node_id']} ({p['node_type']})"
        lines.append(f"  - {where}{', input ' + repr(p['input']) if p['input'] else ''}: {p['message']}")
    for m in record["missing_models"]:
        lines.append(f"  - node {m['node_id']} ({m['node_type']}), input '{m['input']}': model file {m['file']!r} "
                     f"({m['folder']}) is not in {', '.join(m['looked_in'])}")
    return lines
