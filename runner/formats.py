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


MAX_NESTING = 100  # real graphs nest about 6 deep; anything near Python's recursion limit is refused


class GraphFormatError(ValueError):
    """A file that is not a ComfyUI graph, or one whose structure is malformed: ``problems`` holds
    (node id or None, message) for each defect found."""

    def __init__(self, message: str, problems=()):
        self.problems = list(problems) or [(None, message)]
        lines = "".join(f"\n  - {'graph' if n is None else f'node {n}'}: {m}" for n, m in problems)
        super().__init__(message + lines)


def _no_duplicate_keys(pairs):
    """json object_pairs_hook: a key given twice is an error, not 'the last one wins'."""
    out = {}
    for key, value in pairs:
        if key in out:
            raise GraphFormatError(f"the key {key!r} appears twice in one object; keep one")
        out[key] = value
    return out


def nesting_depth(data) -> int:
    """How deep lists and objects nest (iteratively, so any depth can be measured)."""
    deepest, todo = 0, [(data, 1)]
    while todo:
        value, depth = todo.pop()
        if isinstance(value, (dict, list)):
            deepest = max(deepest, depth)
            todo.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))
    return deepest


def parse_json(text, where: str):
    """JSON text -> data, refusing duplicate keys and absurd nesting; errors name ``where``."""
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except GraphFormatError as e:
        raise GraphFormatError(f"{where}: {e}") from None
    except RecursionError:
        raise GraphFormatError(f"{where}: nested deeper than Python can read; a graph nests about 6 deep") from None
    except ValueError as e:  # JSONDecodeError, or an integer too long to convert
        raise GraphFormatError(f"{where}: not valid JSON ({e})") from None
    if nesting_depth(data) > MAX_NESTING:
        raise GraphFormatError(f"{where}: lists or objects nest more than {MAX_NESTING} deep; a graph nests "
                               "about 6 deep")
    return data


def read_graph(path: str) -> dict:
    """The graph in a .json file (either format), or in a PNG written by SaveImage.

    A PNG gives ``{"prompt": ..., "workflow": ...}`` from its text chunks, which
    ``load_prompt`` accepts too (the API prompt is what ran; the workflow is kept
    for the next SaveImage)."""
    if path.lower().endswith(".png"):
        try:
            with Image.open(path) as img:
                info = img.info
        except Image.DecompressionBombError as e:
            raise GraphFormatError(f"{path}: {e}") from None
        chunks = {key: parse_json(info[key], f"{path}, its {key!r} text chunk")
                  for key in ("prompt", "workflow") if key in info}
        if not chunks:
            raise GraphFormatError(f"{path}: this PNG carries no ComfyUI graph (no 'prompt' or 'workflow' text chunk)")
        return {"png_chunks": chunks}
    with open(path, "rb") as f:
        text = f.read()
    try:
        text = text.decode("utf-8")
    except UnicodeDecodeError as e:
        raise GraphFormatError(f"{path}: not a text file ({e}); give a graph .json or a PNG saved by SaveImage") \
            from None
    return parse_json(text, path)


def is_ui_workflow(data) -> bool:
    return isinstance(data, dict) and "nodes" in data and "links" in data


def normalize_api(prompt) -> dict:
    """Check the API shape and make link ids strings. Literal lists stay wrapped in {"__value__": [...]}
    (a bare 2-list is a link); validation unwraps them."""
    if not isinstance(prompt, dict) or not any(isinstance(v, dict) for v in prompt.values()):
        raise GraphFormatError("not a ComfyUI graph: expected an API prompt {id: {class_type, inputs}} "
                               "or a UI workflow with 'nodes' and 'links'")
    problems, out = [], {}
    for node_id, node in prompt.items():
        if not isinstance(node, dict):
            problems.append((node_id, f"must be an object {{class_type, inputs}}, got {_kind(node)}"))
            continue
        if not isinstance(node.get("class_type"), str):
            problems.append((node_id, f"'class_type' must be the node type's name, got {_kind(node.get('class_type'))}"))
        inputs = node.get("inputs") or {}
        if not isinstance(inputs, dict):
            problems.append((node_id, f"'inputs' must be an object of input name -> value, got {_kind(inputs)}"))
            continue
        inputs = {k: ([str(v[0]), v[1]] if is_link(v) else v) for k, v in inputs.items()}
        out[str(node_id)] = {**node, "inputs": inputs}
    if problems:
        raise GraphFormatError(f"malformed API prompt, {len(problems)} problem(s):", problems)
    return out


def _kind(value) -> str:
    """A short description of a malformed value for an error message."""
    text = json.dumps(value, default=repr) if not isinstance(value, (dict, list)) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def link_sources(node: dict) -> list[str]:
    """The ids of the nodes linked into an API node's inputs."""
    return [v[0] for v in node["inputs"].values() if is_link(v)]


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


def _is_id(value) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def _is_index(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _link_problem(link) -> str | None:
    if isinstance(link, dict):
        fields = tuple(link.get(k) for k in ("id", "origin_id", "origin_slot", "target_id", "target_slot"))
    elif isinstance(link, list) and len(link) >= 5:
        fields = tuple(link[:5])
    else:
        return f"a link must be [id, origin_id, origin_slot, target_id, target_slot, type], got {_kind(link)}"
    if not (_is_id(fields[0]) and _is_id(fields[1]) and _is_index(fields[2]) and _is_id(fields[3])
            and _is_index(fields[4])):
        return f"a link needs an id, node ids and slot indices >= 0, got {_kind(link)}"
    return None


def _node_problems(node) -> list[str]:
    """What makes one UI node unreadable (its id is checked by the caller)."""
    out = []
    if not isinstance(node.get("type"), str):
        out.append(f"'type' must be the node type's name, got {_kind(node.get('type'))}")
    values = node.get("widgets_values")
    if values is not None and not isinstance(values, (list, dict)):
        out.append(f"'widgets_values' must be a list, got {_kind(values)}")
    if node.get("mode") is not None and not _is_index(node.get("mode")):
        out.append(f"'mode' must be a number (0 normal, 2 muted, 4 bypassed), got {_kind(node.get('mode'))}")
    for key in ("inputs", "outputs"):
        slots = node.get(key)
        if slots is not None and (not isinstance(slots, list) or not all(isinstance(x, dict) for x in slots)):
            out.append(f"'{key}' must be a list of objects, got {_kind(slots)}")
    for slot in node.get("inputs") if isinstance(node.get("inputs"), list) else []:
        if not isinstance(slot, dict):
            continue
        if not isinstance(slot.get("name"), str):
            out.append(f"an input has no 'name' (got {_kind(slot.get('name'))})")
        if slot.get("link") is not None and not _is_id(slot.get("link")):
            out.append(f"input {slot.get('name')!r}: 'link' must be a link id, got {_kind(slot.get('link'))}")
        widget = slot.get("widget")
        if widget is not None and not (isinstance(widget, dict) and isinstance(widget.get("name", ""), str)):
            out.append(f"input {slot.get('name')!r}: 'widget' must be an object with a name, got {_kind(widget)}")
    return out


def _graph_problems(graph: dict, where: str) -> list:
    """Structural defects of one graph level (the workflow, or a subgraph definition)."""
    nodes, links = graph.get("nodes"), graph.get("links")
    if not isinstance(nodes, list):
        return [(None, f"{where}'nodes' must be a list, got {_kind(nodes)}")]
    problems, ids = [], set()
    for index, node in enumerate(nodes):
        if not isinstance(node, dict):
            problems.append((None, f"{where}nodes[{index}] must be an object, got {_kind(node)}"))
            continue
        node_id = node.get("id")
        if not _is_id(node_id):
            problems.append((None, f"{where}nodes[{index}] has no usable 'id' (got {_kind(node_id)})"))
            continue
        if node_id in ids:
            problems.append((node_id, f"{where}the id is used by two nodes; every node needs its own id"))
        ids.add(node_id)
        problems.extend((node_id, where + p) for p in _node_problems(node))
    if links is not None and not isinstance(links, list):
        problems.append((None, f"{where}'links' must be a list, got {_kind(links)}"))
    link_ids = set()
    for link in links if isinstance(links, list) else []:
        if (why := _link_problem(link)) is not None:
            problems.append((None, where + why))
            continue
        link_id = link["id"] if isinstance(link, dict) else link[0]
        if link_id in link_ids:
            problems.append((None, f"{where}link id {link_id!r} is used twice; every link needs its own id"))
        link_ids.add(link_id)
    return problems


def check_workflow(workflow: dict):
    """Refuse a UI workflow whose structure the converter cannot read, with every defect at once."""
    problems = _graph_problems(workflow, "")
    definitions = workflow.get("definitions")
    subgraphs = (definitions or {}).get("subgraphs") if isinstance(definitions, dict) else None
    if definitions is not None and not (isinstance(definitions, dict) and isinstance(subgraphs or [], list)):
        problems.append((None, f"'definitions' must be an object with a list of subgraphs, got {_kind(definitions)}"))
    for index, graph in enumerate(subgraphs if isinstance(subgraphs, list) else []):
        if not isinstance(graph, dict) or not _is_id(graph.get("id")):
            problems.append((None, f"subgraph {index} must be an object with an 'id', got {_kind(graph)}"))
        else:
            problems.extend(_graph_problems(graph, f"subgraph {graph['id']}: "))
    if problems:
        raise GraphFormatError(f"malformed UI workflow, {len(problems)} problem(s):", problems)


def connectable(a, b) -> bool:
    """LiteGraph's type check: equal, '*' or empty on either side, or overlapping comma lists."""
    if a in ("*", "", 0, None) or b in ("*", "", 0, None):
        return True
    return bool({t.strip().upper() for t in str(a).split(",")} & {t.strip().upper() for t in str(b).split(",")})


def ui_to_api(workflow: dict, node_classes: dict) -> dict:
    """The API prompt ComfyUI's frontend queues for this UI workflow (subgraphs included): runner/convert.py."""
    from .convert import workflow_to_prompt

    check_workflow(workflow)
    try:
        return workflow_to_prompt(workflow, node_classes)
    except RecursionError:  # subgraphs are expanded recursively (links are followed in a loop)
        raise GraphFormatError("subgraphs nested hundreds deep; flatten some of them") from None


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
        return ui_to_api(data, node_classes), data
    return normalize_api(data), None
