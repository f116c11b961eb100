"""What a run tells the outside: ComfyUI-shaped events as JSON lines, and the report file.

Events are ``{"type": ..., "data": {...}}``, the messages ComfyUI sends on its
websocket (execution_start, execution_cached, executing, progress, executed,
execution_error, execution_interrupted, execution_success).
"""
from __future__ import annotations

import json
import os
import tempfile

from ..files import exists, write_new
from .standins import PATHS


def to_json(value):
    """json.dumps fallback: tensors and other objects in ui dicts become short descriptions."""
    shape = getattr(value, "shape", None)
    if shape is not None:
        return {"shape": list(shape), "dtype": str(getattr(value, "dtype", ""))}
    return repr(value)


def check_writable(path: str, what: str):
    """Refuse a file path that cannot be written (a directory, a file that exists, a folder under a file, a
    read-only place) before any work, by making its folder and a probe file in it."""
    if os.path.isdir(path):
        raise ValueError(f"{what} {path}: is a directory; give a file name")
    if os.path.lexists(path):
        raise ValueError(f"{what} {path}: {exists(path).strerror}")
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".noisekit-", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ValueError(f"{what} {path}: cannot write there ({e.strerror or e})") from None


def write_report(path: str, report: dict):
    """The report as a new file (never replacing one: an output of this run may have taken the name)."""
    try:
        write_new(path, lambda f: f.write(json.dumps(report, indent=2, default=to_json).encode("utf-8")))
    except OSError as e:
        raise OSError(e.errno, f"--report {path}: {e.strerror}; the report was not written") from None


def image_paths(ui: dict, kind: str) -> list[str]:
    """Files of one type ("output" or "temp") listed in the ui dicts of a run."""
    return [image.get("path") or os.path.join(PATHS[kind], image.get("subfolder", ""), image["filename"])
            for node_ui in ui.values() for image in node_ui.get("images", []) if image.get("type") == kind]


def error_record(node_id, node_type, input_name, code, message) -> dict:
    return {"node_id": node_id, "node_type": node_type, "input": input_name, "type": code, "message": message}


def build_report(graph: str, status: str, prompt: dict | None = None, result=None, errors=(), node_classes=None,
                 device: str | None = None) -> dict:
    """The report file's content; ``result`` may be a partial RunResult after a failure."""
    report = {"graph": graph, "status": status, "device": device, "prompt_id": getattr(result, "prompt_id", None),
              "nodes": {}, "timings": {}, "outputs": [], "previews": [], "ui": {}, "executed": [], "cached": [],
              "standins": [], "errors": list(errors)}
    if result is None:
        return report
    classes = node_classes or {}
    types = {n: prompt[n]["class_type"] for n in [*result.executed, *result.cached]} if prompt else {}
    report.update(
        timings={n: round(t, 6) for n, t in result.timings.items()},
        nodes={n: {"type": types.get(n), "status": "executed" if n in result.timings else "cached",
                   "seconds": round(result.timings.get(n, 0.0), 6),
                   "standin": bool(getattr(classes.get(types.get(n)), "STANDIN", False))} for n in types},
        outputs=image_paths(result.ui, "output"), previews=image_paths(result.ui, "temp"), ui=dict(result.ui),
        executed=list(result.executed), cached=list(result.cached),
        standins=sorted({t for t in types.values() if getattr(classes.get(t), "STANDIN", False)}))
    return report
