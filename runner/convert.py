"""UI workflow -> API prompt, as the ComfyUI frontend's graphToPrompt makes it (checked against frontend 1.35).

Every real node becomes one prompt entry; its widget values are mapped to input names with the node's
INPUT_TYPES (its class, or /object_info recorded from a ComfyUI: ``object_info_classes``), skipping the
control_after_generate value after seed-like INTs. Links are followed to the real output that feeds them:

- through Reroutes, and from PrimitiveNodes (their value becomes the input's literal);
- through bypassed nodes (mode 4: an output is fed by the node's input of the matching type);
- muted nodes (mode 2) are dropped, and so is every input linked to them;
- into and out of subgraphs: a node whose type is the id of one of ``definitions.subgraphs`` is expanded
  to its inner nodes, with ids ``outer:inner`` (``7:6:4`` when nested); a link from the subgraph's input
  node (id -10) continues at the matching input of the subgraph node outside, and an output of the
  subgraph node is the inner link to its output node (id -20). A muted or bypassed subgraph node acts as
  one muted or bypassed node.
"""
from __future__ import annotations

import json

from .formats import BYPASSED, MUTED, VIRTUAL, GraphFormatError, connectable, widget_values

SUBGRAPH_INPUT, SUBGRAPH_OUTPUT = -10, -20


class Value:
    """A literal reaching an input through a link (a PrimitiveNode's widget)."""

    def __init__(self, value):
        self.value = value


def _links(graph: dict) -> dict:
    """link id -> (origin id, origin slot, target id, target slot); saved as lists or as objects."""
    out = {}
    for link in graph.get("links") or []:
        if isinstance(link, dict):
            out[link["id"]] = (link["origin_id"], link["origin_slot"], link["target_id"], link["target_slot"])
        elif link:
            out[link[0]] = (link[1], link[2], link[3], link[4])
    return out


class Scope:
    """One graph level: the root workflow, or one instance of a subgraph inside a subgraph node."""

    def __init__(self, graph: dict, path: tuple = (), parent: Scope | None = None, node: dict | None = None):
        self.graph, self.path, self.parent, self.node = graph, path, parent, node  # node: the subgraph node
        self.nodes = {n["id"]: n for n in graph.get("nodes") or []}
        self.links = _links(graph)

    def node_id(self, node: dict) -> str:
        return ":".join(str(p) for p in (*self.path, node["id"]))


class Converter:
    def __init__(self, workflow: dict, node_classes: dict):
        self.classes = node_classes
        self.subgraphs = {s["id"]: s for s in (workflow.get("definitions") or {}).get("subgraphs") or []}
        self.root = Scope(workflow)
        if (workflow.get("extra") or {}).get("groupNodes"):
            raise GraphFormatError("the workflow has group nodes (an older ComfyUI feature): open it in ComfyUI, "
                                   "convert each group node to a subgraph, and save again")

    def prompt(self) -> dict:
        out = {}
        self.emit(self.root, out)
        return out

    def emit(self, scope: Scope, out: dict, seen=frozenset()):
        for node in scope.graph.get("nodes") or []:
            kind = node["type"]
            if kind in VIRTUAL or node.get("mode") in (MUTED, BYPASSED):
                continue
            if kind in self.subgraphs:
                if kind in seen:
                    raise GraphFormatError(f"node {scope.node_id(node)}: subgraph {kind} contains itself")
                inner = Scope(self.subgraphs[kind], (*scope.path, node["id"]), scope, node)
                self.emit(inner, out, seen | {kind})
                continue
            out[scope.node_id(node)] = self.entry(scope, node)

    def entry(self, scope: Scope, node: dict) -> dict:
        kind = node["type"]
        cls = self.classes.get(kind)
        inputs = widget_values(node, cls) if cls is not None else {}
        inputs = {k: ({"__value__": v} if isinstance(v, list) else v) for k, v in inputs.items()}
        for slot, inp in enumerate(node.get("inputs") or []):
            source = self.input(scope, node, slot)
            name = (inp.get("widget") or {}).get("name", inp["name"])
            if isinstance(source, Value):
                inputs[name] = source.value
            elif source is not None:
                inputs[name] = list(source)
            elif inp.get("link") is not None:
                inputs.pop(name, None)  # linked to a muted node: graphToPrompt leaves the input out
        return {"class_type": kind, "inputs": inputs, "_meta": {"title": node.get("title") or kind}}

    def input(self, scope: Scope, node: dict, slot: int, want=None, seen=frozenset()):
        """What feeds input ``slot`` of ``node``: (node id, output slot), a Value, or None (unconnected or muted).
        ``want`` is the type asked for (through reroutes: the final consumer's input type)."""
        inputs = node.get("inputs") or []
        link = inputs[slot].get("link") if slot < len(inputs) else None
        if link is None or link not in scope.links:
            return None
        want = inputs[slot].get("type") if want is None else want
        origin, origin_slot = scope.links[link][:2]
        key = (scope.path, origin, origin_slot)
        if key in seen:
            raise GraphFormatError(f"node {scope.node_id(node)}: its input links loop through reroutes or "
                                   "bypassed nodes")
        seen = seen | {key}
        if origin == SUBGRAPH_INPUT:  # continue outside, at the subgraph node's matching input
            return self.input(scope.parent, scope.node, origin_slot, want, seen)
        source = scope.nodes.get(origin)
        if source is None:
            return (":".join(str(p) for p in (*scope.path, origin)), origin_slot)  # validation reports it
        return self.output(scope, source, origin_slot, want, seen)

    def output(self, scope: Scope, node: dict, slot: int, want, seen):
        mode, kind = node.get("mode"), node["type"]
        if mode == MUTED:
            return None
        if mode == BYPASSED:
            index = bypass_input(node, slot, want)
            return None if index < 0 else self.input(scope, node, index, None, seen)
        if kind == "PrimitiveNode":
            values = node.get("widgets_values") or []
            return Value(values[0]) if values else None
        if kind in VIRTUAL:  # Reroute passes its input through
            return self.input(scope, node, slot, want, seen) if slot < len(node.get("inputs") or []) else None
        if kind in self.subgraphs:  # the inner link that reaches the subgraph's output node at this slot
            inner = Scope(self.subgraphs[kind], (*scope.path, node["id"]), scope, node)
            outputs = self.subgraphs[kind].get("outputs") or []
            link = next(iter(outputs[slot].get("linkIds") or []), None) if slot < len(outputs) else None
            if link is None or link not in inner.links:
                return None
            origin, origin_slot = inner.links[link][:2]
            if origin == SUBGRAPH_INPUT:  # an input wired straight to an output
                return self.input(scope, node, origin_slot, want, seen)
            source = inner.nodes.get(origin)
            return None if source is None else self.output(inner, source, origin_slot, want, seen)
        return (scope.node_id(node), slot)


def bypass_input(node: dict, slot: int, want) -> int:
    """Which input a bypassed node passes to output ``slot``: the same index if the types fit,
    else the first input of exactly the wanted type, else the first that fits."""
    inputs, outputs = node.get("inputs") or [], node.get("outputs") or []
    if want in ("*", "", None):
        return slot if slot < len(inputs) else (0 if inputs else -1)
    out_type = outputs[slot].get("type") if slot < len(outputs) else None
    fits = [connectable(i.get("type"), out_type) and connectable(i.get("type"), want) for i in inputs]
    if slot < len(inputs) and fits[slot]:
        return slot
    exact = [i for i, inp in enumerate(inputs) if inp.get("type") == want]
    return exact[0] if exact else next((i for i, ok in enumerate(fits) if ok), -1)


def workflow_to_prompt(workflow: dict, node_classes: dict) -> dict:
    """The API prompt ComfyUI's frontend queues for this UI workflow."""
    return Converter(workflow, node_classes).prompt()


class InfoNode:
    """A node class seen through ComfyUI's /object_info: what conversion and validation read of it."""

    def __init__(self, name: str, info: dict):
        self.__name__, self.info = name, info
        self.RETURN_TYPES = tuple(info.get("output") or ())
        self.OUTPUT_NODE = bool(info.get("output_node"))
        self.CATEGORY = info.get("category", "")

    def INPUT_TYPES(self) -> dict:
        return self.info.get("input") or {}


def object_info_classes(path: str) -> dict:
    """name -> InfoNode for every node in an /object_info JSON file (``curl URL/object_info``)."""
    with open(path, encoding="utf-8") as f:
        try:
            info = json.load(f)
        except json.JSONDecodeError as e:
            raise GraphFormatError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(info, dict) or not all(isinstance(v, dict) and "input" in v for v in info.values()):
        raise GraphFormatError(f"{path}: not ComfyUI's /object_info (a map of node name -> {{input, output, ...}})")
    return {name: InfoNode(name, entry) for name, entry in info.items()}
