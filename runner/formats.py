"""ComfyUI's two graph formats -> one API prompt.

API prompt ("Export (API)"): ``{id: {"class_type", "inputs": {name: value | [src_id, slot]}, "_meta"}}``,
literal lists wrapped as ``{"__value__": [...]}``.

UI workflow ("Save"): nodes / links / widgets_values. Converted the way the
frontend's graphToPrompt does: widget values in INPUT_TYPES order (required, then
optional), skipping the control_after_generate value stored after seed-like INTs;
links resolved through Reroute and PrimitiveNode (virtual nodes) and through
bypassed nodes (mode 4: an output is fed by the node's input of the matching
type); muted nodes (mode 2) dropped together with every input linked to them;
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


def _links(workflow: dict) -> dict:
    """link id -> (origin id, origin slot); links are [id, origin, slot, target, slot, type] or objects."""
    out = {}
    for link in workflow.get("links") or []:
        if isinstance(link, dict):
            out[link["id"]] = (link["origin_id"], link["origin_slot"])
        elif link:
            out[link[0]] = (link[1], link[2])
    return out


def _connectable(a, b) -> bool:
    """LiteGraph's type check: equal, '*' or empty on either side, or overlapping comma lists."""
    if a in ("*", "", 0, None) or b in ("*", "", 0, None):
        return True
    return bool({t.strip().upper() for t in str(a).split(",")} & {t.strip().upper() for t in str(b).split(",")})


class _Resolver:
    """Follows a UI link to the real output feeding it, as the frontend's ExecutableNodeDTO does."""

    def __init__(self, workflow: dict):
        self.nodes = {n["id"]: n for n in workflow["nodes"]}
        self.links = _links(workflow)

    def input(self, node: dict, slot: int, want=None, seen=frozenset()):
        """(origin id, slot) feeding input ``slot`` of ``node``, or None (unconnected).
        ``want`` is the type asked for (through reroutes: the final consumer's input type)."""
        inputs = node.get("inputs") or []
        link = inputs[slot].get("link") if slot < len(inputs) else None
        if link is None or link not in self.links:
            return None
        want = inputs[slot].get("type") if want is None else want
        origin, origin_slot = self.links[link]
        if (origin, origin_slot) in seen:
            raise GraphFormatError(f"node {node['id']}: its input links loop through reroutes or bypassed nodes")
        source = self.nodes.get(origin)
        if source is None:
            return (str(origin), origin_slot)  # dangling: validation reports the missing node
        return self.output(source, origin_slot, want, seen | {(origin, origin_slot)})

    def output(self, node: dict, slot: int, want, seen):
        if node.get("mode") == BYPASSED:
            index = self._bypass_input(node, slot, want)
            return None if index < 0 else self.input(node, index, None, seen)
        if node["type"] in VIRTUAL:  # Reroute passes input 0 through; PrimitiveNode has none (its value is set)
            return self.input(node, slot, want, seen) if slot < len(node.get("inputs") or []) else None
        return (str(node["id"]), slot)

    @staticmethod
    def _bypass_input(node: dict, slot: int, want) -> int:
        """Which input a bypassed node passes to output ``slot``: the same index if the types fit,
        else the first input of exactly the wanted type, else the first that fits."""
        inputs, outputs = node.get("inputs") or [], node.get("outputs") or []
        if want in ("*", "", None):
            return slot if slot < len(inputs) else (0 if inputs else -1)
        out_type = outputs[slot].get("type") if slot < len(outputs) else None
        fits = [_connectable(i.get("type"), out_type) and _connectable(i.get("type"), want) for i in inputs]
        if slot < len(inputs) and fits[slot]:
            return slot
        exact = [i for i, inp in enumerate(inputs) if inp.get("type") == want]
        return exact[0] if exact else next((i for i, ok in enumerate(fits) if ok), -1)


def _check_subgraphs(workflow: dict):
    ids = {s.get("id") for s in (workflow.get("definitions") or {}).get("subgraphs") or []}
    for node in workflow["nodes"]:
        if node.get("type") in ids:
            raise GraphFormatError(f"node {node['id']} is a subgraph; the runner does not expand subgraphs yet: "
                                   "unpack it in ComfyUI (right click > Unpack Subgraph) and save again")


def _primitive_values(workflow: dict, links: dict) -> dict:
    """(target node id, widget name) -> value of the PrimitiveNode feeding it (applied before queueing)."""
    nodes = {n["id"]: n for n in workflow["nodes"]}
    out = {}
    for node in workflow["nodes"]:
        for inp in node.get("inputs") or []:
            origin = nodes.get(links.get(inp.get("link"), (None,))[0])
            if origin is not None and origin["type"] == "PrimitiveNode" and origin.get("widgets_values"):
                out[(node["id"], (inp.get("widget") or {}).get("name", inp["name"]))] = origin["widgets_values"][0]
    return out


def ui_to_api(workflow: dict, node_classes: dict) -> dict:
    """The API prompt ComfyUI's frontend queues for this UI workflow."""
    _check_subgraphs(workflow)
    resolver = _Resolver(workflow)
    primitives = _primitive_values(workflow, resolver.links)
    prompt = {}
    for node in workflow["nodes"]:
        kind = node["type"]
        if kind in VIRTUAL or node.get("mode") in (MUTED, BYPASSED):
            continue
        cls = node_classes.get(kind)
        inputs = widget_values(node, cls) if cls is not None else {}
        inputs = {k: ({"__value__": v} if isinstance(v, list) else v) for k, v in inputs.items()}
        for (target, name), value in primitives.items():
            if target == node["id"]:
                inputs[name] = value
        for slot, inp in enumerate(node.get("inputs") or []):
            source = resolver.input(node, slot)
            if source is not None:
                inputs[inp["name"]] = list(source)
        title = node.get("title") or kind
        prompt[str(node["id"])] = {"class_type": kind, "inputs": inputs, "_meta": {"title": title}}
    # Inputs linked to muted nodes are removed, as graphToPrompt does (a required one is then missing).
    muted = {str(n["id"]) for n in workflow["nodes"] if n.get("mode") == MUTED}
    for node in prompt.values():
        node["inputs"] = {k: v for k, v in node["inputs"].items() if not (is_link(v) and v[0] in muted)}
    return prompt


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
