"""ComfyUI's two graph formats -> one API prompt.

API prompt ("Export (API)"): ``{id: {"class_type", "inputs": {name: value | [src_id, slot]}, "_meta"}}``,
literal lists wrapped as ``{"__value__": [...]}``.

UI workflow ("Save"): nodes / links / widgets_values, converted the way the
frontend's graphToPrompt does (runner/convert.py: reroutes, primitive nodes, muted
and bypassed nodes, subgraphs): widget values in INPUT_TYPES order (required, then
optional), skipping the control_after_generate value stored after seed-like INTs;
notes and groups ignored.
"""
from __future__ import annotations

import json

from PIL import Image

WIDGET_TYPES = ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO")
CONTROL_VALUES = ("fixed", "increment", "decrement", "randomize")
SEED_NAMES = ("seed", "noise_seed")  # the frontend adds a control widget to these even without the flag
VIRTUAL = ("Reroute", "PrimitiveNode", "Note", "MarkdownNote")
MUTED, BYPASSED = 2, 4


class GraphFormatError(ValueError):
    """A file that is not a ComfyUI graph, with what was expected."""


def read_graph(path: str) -> dict:
    """The graph in a .json file (either format), or in a PNG written by SaveImage.

    A PNG gives ``{"prompt": ..., "workflow": ...}`` from its text chunks, which
    ``load_prompt`` accepts too (the API prompt is what ran; the workflow is kept
    for the next SaveImage)."""
    if path.lower().endswith(".png"):
        info = Image.open(path).info
        chunks = {key: json.loads(info[key]) for key in ("prompt", "workflow") if key in info}
        if not chunks:
            raise GraphFormatError(f"{path}: this PNG carries no ComfyUI graph (no 'prompt' or 'workflow' text chunk)")
        return {"png_chunks": chunks}
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise GraphFormatError(f"{path}: not valid JSON ({e})") from None


def is_ui_workflow(data) -> bool:
    return isinstance(data, dict) and isinstance(data.get("nodes"), list) and "links" in data


def normalize_api(prompt) -> dict:
    """Check the API shape and make link ids strings. Literal lists stay wrapped in {"__value__": [...]}
    (a bare 2-list is a link); validation unwraps them."""
    if not isinstance(prompt, dict) or not prompt or not all(isinstance(v, dict) for v in prompt.values()):
        raise GraphFormatError("not a ComfyUI graph: expected an API prompt {id: {class_type, inputs}} "
                               "or a UI workflow with 'nodes' and 'links'")
    out = {}
    for node_id, node in prompt.items():
        inputs = node.get("inputs") or {}
        if not isinstance(inputs, dict):
            raise GraphFormatError(f"node {node_id}: 'inputs' must be an object of input name -> value")
        inputs = {k: ([str(v[0]), v[1]] if is_link(v) else v) for k, v in inputs.items()}
        out[str(node_id)] = {**node, "inputs": inputs}
    return out


def is_link(value) -> bool:
    """A link [source node id, output index]; ids are strings once normalize_api has run."""
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], (str, int)) \
        and not isinstance(value[0], bool) and isinstance(value[1], int) and not isinstance(value[1], bool)


def parse_input_decl(decl) -> tuple[object, dict]:
    """(type, options) of one INPUT_TYPES entry; the type is a list of choices for a combo."""
    kind = decl[0] if isinstance(decl, (tuple, list)) and decl else decl
    opts = decl[1] if isinstance(decl, (tuple, list)) and len(decl) > 1 and isinstance(decl[1], dict) else {}
    if kind == "COMBO":  # new-style combo: ("COMBO", {"options": [...]})
        kind = list(opts.get("options", []))
    return (list(kind) if isinstance(kind, (list, tuple)) else kind), opts


def widget_inputs(cls) -> list[tuple[str, bool]]:
    """(name, followed by a control value) for each widget input, in INPUT_TYPES order."""
    spec = cls.INPUT_TYPES()
    out = []
    for section in ("required", "optional"):
        for name, decl in (spec.get(section) or {}).items():
            kind, opts = parse_input_decl(decl)
            if (isinstance(kind, list) or kind in WIDGET_TYPES) and not opts.get("forceInput"):
                control = kind == "INT" and (opts.get("control_after_generate") or name in SEED_NAMES)
                out.append((name, bool(control)))
    return out


def widget_values(node: dict, cls) -> dict:
    """Widget input name -> saved value; extra trailing values (e.g. LoadImage's upload button) are ignored."""
    values = node.get("widgets_values")
    if isinstance(values, dict):  # some frontends save {name: value}
        return dict(values)
    values, out = list(values or []), {}
    for name, control in widget_inputs(cls):
        if not values:
            break
        out[name] = values.pop(0)
        if control and values and values[0] in CONTROL_VALUES:
            values.pop(0)
    return out


def connectable(a, b) -> bool:
    """LiteGraph's type check: equal, '*' or empty on either side, or overlapping comma lists."""
    if a in ("*", "", 0, None) or b in ("*", "", 0, None):
        return True
    return bool({t.strip().upper() for t in str(a).split(",")} & {t.strip().upper() for t in str(b).split(",")})


def ui_to_api(workflow: dict, node_classes: dict) -> dict:
    """The API prompt ComfyUI's frontend queues for this UI workflow (subgraphs included): runner/convert.py."""
    from .convert import workflow_to_prompt

    return workflow_to_prompt(workflow, node_classes)


def load_prompt(data, node_classes: dict) -> tuple[dict, dict | None]:
    """(API prompt, UI workflow or None) from either format, or from ``read_graph``'s PNG chunks."""
    if isinstance(data, dict) and "png_chunks" in data:
        chunks = data["png_chunks"]
        if "prompt" in chunks:
            return normalize_api(chunks["prompt"]), chunks.get("workflow")
        data = chunks["workflow"]
    if is_ui_workflow(data):
        return ui_to_api(data, node_classes), data
    return normalize_api(data), None
