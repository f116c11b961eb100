"""ComfyUI's two graph formats -> one API prompt.

API prompt ("Export (API)"): {id: {"class_type", "inputs": {name: value | [src_id, slot]}}}.
UI workflow ("Save"): nodes / links / widgets_values, converted here the way the
frontend's graphToPrompt does: widget values in INPUT_TYPES order (skipping the
control_after_generate value stored after seed-like INTs), links followed through
Reroute and PrimitiveNode, muted nodes (mode 2) removed, bypassed nodes (mode 4)
passing each output through from their first input of the same type.
"""
from __future__ import annotations

import json

from PIL import Image

WIDGET_TYPES = ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO")
CONTROL_VALUES = ("fixed", "increment", "decrement", "randomize")
IGNORED = ("Note", "MarkdownNote")
MUTED, BYPASSED = 2, 4


class GraphFormatError(ValueError):
    """A file that is not a ComfyUI graph, with what was expected."""


def read_graph(path: str) -> tuple[dict, dict | None]:
    """(data, None) from a .json graph, or from a PNG written by SaveImage (its prompt/workflow chunks)."""
    if path.lower().endswith(".png"):
        info = Image.open(path).info
        for key in ("workflow", "prompt"):
            if key in info:
                return json.loads(info[key]), None
        raise GraphFormatError(f"{path}: this PNG carries no ComfyUI graph (no 'prompt' or 'workflow' chunk)")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f), None
    except json.JSONDecodeError as e:
        raise GraphFormatError(f"{path}: not valid JSON ({e})") from None


def is_ui_workflow(data: dict) -> bool:
    return isinstance(data, dict) and isinstance(data.get("nodes"), list) and "links" in data


def unwrap_api(prompt: dict) -> dict:
    """Validate the API shape and unwrap {"__value__": [...]} literal lists."""
    if not isinstance(prompt, dict) or not all(isinstance(v, dict) and "class_type" in v for v in prompt.values()):
        raise GraphFormatError("not a ComfyUI graph: expected an API prompt {id: {class_type, inputs}} or a UI "
                               "workflow with 'nodes' and 'links'")
    out = {}
    for node_id, node in prompt.items():
        inputs = {k: (v["__value__"] if isinstance(v, dict) and "__value__" in v else v)
                  for k, v in node.get("inputs", {}).items()}
        out[str(node_id)] = {**node, "inputs": inputs}
    return out


def widget_inputs(cls) -> list[tuple[str, bool]]:
    """(name, has_control_value) for each widget input in INPUT_TYPES order."""
    spec = cls.INPUT_TYPES()
    out = []
    for section in ("required", "optional"):
        for name, decl in spec.get(section, {}).items():
            kind, opts = decl[0], (decl[1] if len(decl) > 1 else {})
            if isinstance(kind, list) or (kind in WIDGET_TYPES and not opts.get("forceInput")):
                control = kind == "INT" and (opts.get("control_after_generate") or name in ("seed", "noise_seed"))
                out.append((name, bool(control)))
    return out


def _widget_values(node: dict, cls) -> dict:
    values = node.get("widgets_values")
    if isinstance(values, dict):
        return dict(values)
    values, out = list(values or []), {}
    for name, control in widget_inputs(cls):
        if not values:
            break
        out[name] = values.pop(0)
        if control and values and values[0] in CONTROL_VALUES:
            values.pop(0)
    return out


def ui_to_api(workflow: dict, node_classes: dict) -> dict:
    """Convert a UI workflow to the API prompt ComfyUI's frontend would queue."""
    nodes = {n["id"]: n for n in workflow["nodes"]}
    links = {link[0]: link for link in workflow.get("links", []) if link}

    def source(link_id, seen=()):
        """The (node_id, slot) a link really comes from, through reroutes and bypassed nodes."""
        if link_id is None or link_id not in links or link_id in seen:
            return None
        _, origin, slot, *_rest = links[link_id]
        node = nodes.get(origin)
        if node is None or node.get("mode") == MUTED:
            return None
        if node["type"] == "Reroute":
            return source(node["inputs"][0].get("link"), seen + (link_id,))
        if node["type"] == "PrimitiveNode":
            return ("value", (node.get("widgets_values") or [None])[0])
        if node.get("mode") == BYPASSED:
            out_type = node["outputs"][slot]["type"] if slot < len(node.get("outputs", [])) else None
            for inp in node.get("inputs", []):
                if inp.get("type") == out_type and inp.get("link") is not None:
                    return source(inp["link"], seen + (link_id,))
            return None
        return (str(origin), slot)

    prompt = {}
    for node in workflow["nodes"]:
        kind = node["type"]
        if kind in IGNORED or kind in ("Reroute", "PrimitiveNode") or node.get("mode") in (MUTED, BYPASSED):
            continue
        cls = node_classes.get(kind)
        inputs = _widget_values(node, cls) if cls is not None else {}
        for inp in node.get("inputs", []):
            src = source(inp.get("link"))
            if src is None:
                continue
            inputs[inp["name"]] = src[1] if src[0] == "value" else [src[0], src[1]]
        title = node.get("title") or node.get("properties", {}).get("Node name for S&R", kind)
        prompt[str(node["id"])] = {"class_type": kind, "inputs": inputs, "_meta": {"title": title}}
    return prompt


def load_prompt(data: dict, node_classes: dict) -> tuple[dict, dict | None]:
    """(API prompt, UI workflow or None) from either format."""
    if is_ui_workflow(data):
        return ui_to_api(data, node_classes), data
    return unwrap_api(data), None
