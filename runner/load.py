"""A graph file -> the API prompt the runner runs: the one path of ``noisekit run``, ``run --over`` and
``noisekit convert``. Reading (a .json of either format, or a PNG saved by SaveImage) is formats.py's,
UI -> API conversion with its checks convert.py's."""
from __future__ import annotations

import os

from .convert import is_ui_workflow, workflow_to_prompt
from .formats import MAX_NESTING, nesting_depth, normalize_api, read_graph
from .outcome import GraphFormatError


def load_prompt(data, node_classes: dict) -> tuple[dict, dict | None]:
    """(API prompt, UI workflow or None) from either format, or from ``read_graph``'s PNG chunks."""
    if nesting_depth(data) > MAX_NESTING + 2:
        raise GraphFormatError(f"lists or objects nest more than {MAX_NESTING} deep; a graph nests about 6 deep")
    if isinstance(data, dict) and "png_chunks" in data:
        chunks = data["png_chunks"]
        if "prompt" in chunks:
            return normalize_api(chunks["prompt"]), chunks.get("workflow")
        data = chunks["workflow"]
    if is_ui_workflow(data):
        return workflow_to_prompt(data, node_classes), data
    return normalize_api(data), None


def load_graph(path: str, node_classes: dict) -> tuple[dict, dict | None]:
    """(API prompt, UI workflow or None) of the graph in a file."""
    return load_prompt(read_graph(path), node_classes)


def read_workflow(path: str) -> dict:
    """The UI workflow in a file (a PNG's 'workflow' text chunk), refusing an API prompt: it needs no conversion."""
    data = read_graph(path)
    workflow = data.get("png_chunks", {}).get("workflow", data) if isinstance(data, dict) else data
    if not is_ui_workflow(workflow):
        raise GraphFormatError(f"{path}: not a UI workflow (no 'nodes' and 'links'); an API prompt needs "
                               "no conversion")
    return workflow


def default_input_dir(graph_path: str) -> str:
    """input/ beside the graph if it exists (so example graphs find their photos), else ./input."""
    beside = os.path.join(os.path.dirname(os.path.abspath(graph_path)), "input")
    return beside if os.path.isdir(beside) else os.path.abspath("input")
