"""UI workflow ("Save": nodes / links / widgets_values) -> API prompt, as the ComfyUI frontend's graphToPrompt
makes it (checked against frontend 1.35).

A workflow's structure is checked first (``check_workflow``: every defect at once, naming the node), so
that ``noisekit run`` and ``noisekit convert`` refuse a malformed file with the same clear message. Every
real node becomes one prompt entry; its widget values are mapped to input names with the node's
INPUT_TYPES (its class, or /object_info recorded from a ComfyUI: ``object_info_classes``) in INPUT_TYPES
order (required, then optional), skipping the control_after_generate value after seed-like INTs; notes
and groups are ignored. Links are followed to the real output that feeds them:

- through Reroutes, and from PrimitiveNodes (their value becomes the input's literal);
- through bypassed nodes (mode 4: an output is fed by the node's input of the matching type);
- muted nodes (mode 2) are dropped, and so is every input linked to them;
- group nodes (``workflow>name``, defined in ``extra.groupNodes``) as the subgraphs they amount to;
- into and out of subgraphs: a node whose type is the id of one of ``definitions.subgraphs`` is expanded
  to its inner nodes, with ids ``outer:inner`` (``7:6:4`` when nested); a link from the subgraph's input
  node (id -10) continues at the subgraph node's input of the same name outside, or takes the value of
  the widget the subgraph node shows for it; an output of the subgraph node is the inner link to its
  output node (id -20). A muted or bypassed subgraph node acts as one muted or bypassed node.
"""
from __future__ import annotations

import json

from .formats import MAX_NESTING, brief, read_json
from .outcome import GraphFormatError
from .validate import parse_input_decl

WIDGET_TYPES = ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO")
CONTROL_VALUES = ("fixed", "increment", "decrement", "randomize")
SEED_NAMES = ("seed", "noise_seed")  # the frontend adds a control widget to these even without the flag
VIRTUAL = ("Reroute", "PrimitiveNode", "Note", "MarkdownNote")
MUTED, BYPASSED = 2, 4
SUBGRAPH_INPUT, SUBGRAPH_OUTPUT = -10, -20


def is_ui_workflow(data) -> bool:
    return isinstance(data, dict) and "nodes" in data and "links" in data


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
        return f"a link must be [id, origin_id, origin_slot, target_id, target_slot, type], got {brief(link)}"
    if not (_is_id(fields[0]) and _is_id(fields[1]) and _is_index(fields[2]) and _is_id(fields[3])
            and _is_index(fields[4])):
        return f"a link needs an id, node ids and slot indices >= 0, got {brief(link)}"
    return None


def _node_problems(node) -> list[str]:
    """What makes one UI node unreadable (its id is checked by the caller)."""
    out = []
    if not isinstance(node.get("type"), str):
        out.append(f"'type' must be the node type's name, got {brief(node.get('type'))}")
    values = node.get("widgets_values")
    if values is not None and not isinstance(values, (list, dict)):
        out.append(f"'widgets_values' must be a list, got {brief(values)}")
    if node.get("mode") is not None and not _is_index(node.get("mode")):
        out.append(f"'mode' must be a number (0 normal, 2 muted, 4 bypassed), got {brief(node.get('mode'))}")
    for key in ("inputs", "outputs"):
        slots = node.get(key)
        if slots is not None and (not isinstance(slots, list) or not all(isinstance(x, dict) for x in slots)):
            out.append(f"'{key}' must be a list of objects, got {brief(slots)}")
    for slot in node.get("inputs") if isinstance(node.get("inputs"), list) else []:
        if not isinstance(slot, dict):
            continue
        if not isinstance(slot.get("name"), str):
            out.append(f"an input has no 'name' (got {brief(slot.get('name'))})")
        if slot.get("link") is not None and not _is_id(slot.get("link")):
            out.append(f"input {slot.get('name')!r}: 'link' must be a link id, got {brief(slot.get('link'))}")
        widget = slot.get("widget")
        if widget is not None and not (isinstance(widget, dict) and isinstance(widget.get("name", ""), str)):
            out.append(f"input {slot.get('name')!r}: 'widget' must be an object with a name, got {brief(widget)}")
    properties = node.get("properties")
    if properties is not None and not isinstance(properties, dict):
        out.append(f"'properties' must be an object, got {brief(properties)}")
    proxies = (properties or {}).get("proxyWidgets") if isinstance(properties, dict) else None
    if proxies is not None and not (isinstance(proxies, list) and all(isinstance(p, list) for p in proxies)):
        out.append(f"'properties.proxyWidgets' must be a list of [node id, widget name], got {brief(proxies)}")
    return out


def _graph_problems(graph: dict, where: str, subgraph: bool = False) -> list:
    """Structural defects of one graph level (the workflow, or a subgraph definition)."""
    nodes, links = graph.get("nodes"), graph.get("links")
    if not isinstance(nodes, list):
        return [(None, f"{where}'nodes' must be a list, got {brief(nodes)}")]
    problems, ids = [], set()
    for index, node in enumerate(nodes):
        if not isinstance(node, dict):
            problems.append((None, f"{where}nodes[{index}] must be an object, got {brief(node)}"))
            continue
        node_id = node.get("id")
        if not _is_id(node_id):
            problems.append((None, f"{where}nodes[{index}] has no usable 'id' (got {brief(node_id)})"))
            continue
        if node_id in ids:
            problems.append((node_id, f"{where}the id is used by two nodes; every node needs its own id"))
        ids.add(node_id)
        problems.extend((node_id, where + p) for p in _node_problems(node))
    if links is not None and not isinstance(links, list):
        problems.append((None, f"{where}'links' must be a list, got {brief(links)}"))
    origins = {}  # link id -> the node it comes from
    for link in links if isinstance(links, list) else []:
        if (why := _link_problem(link)) is not None:
            problems.append((None, where + why))
            continue
        link_id = link["id"] if isinstance(link, dict) else link[0]
        if link_id in origins:
            problems.append((None, f"{where}link id {link_id!r} is used twice; every link needs its own id"))
        origins[link_id] = link["origin_id"] if isinstance(link, dict) else link[1]
    if subgraph:
        problems.extend(_subgraph_io_problems(graph, where))
    if not problems:  # the origin of every link an input (or a subgraph output) takes exists
        known = ids | ({SUBGRAPH_INPUT} if subgraph else set())
        outputs = graph.get("outputs") or [] if subgraph else []
        used = [(node["id"], f"input {slot.get('name')!r}", slot.get("link")) for node in nodes
                for slot in node.get("inputs") or []]
        used += [(None, f"output {k}", link) for k, out in enumerate(outputs) for link in out.get("linkIds") or []]
        problems.extend((node_id, f"{where}{what} is linked from node {origins[link]}, which does not exist")
                        for node_id, what, link in used if link in origins and origins[link] not in known)
    return problems


def _subgraph_io_problems(graph: dict, where: str) -> list:
    """A subgraph definition's inputs and outputs: lists of objects, an output's linkIds a list of link ids."""
    problems = []
    for key in ("inputs", "outputs"):
        slots = graph.get(key)
        if slots is not None and not (isinstance(slots, list) and all(isinstance(x, dict) for x in slots)):
            problems.append((None, f"{where}'{key}' must be a list of objects, got {brief(slots)}"))
    for k, out in enumerate([] if problems else graph.get("outputs") or []):
        ids = out.get("linkIds")
        if ids is not None and not (isinstance(ids, list) and all(_is_id(i) for i in ids)):
            problems.append((None, f"{where}output {k}: 'linkIds' must be a list of link ids, got {brief(ids)}"))
    return problems


def _group_problems(workflow: dict) -> list:
    """``extra.groupNodes``: name -> {nodes, links [origin index or null, slot, target index, slot, ...],
    external [index, slot, ...]}, which the converter turns into subgraphs."""
    extra = workflow.get("extra")
    groups = extra.get("groupNodes") if isinstance(extra, dict) else None
    if extra is not None and not isinstance(extra, dict):
        return [(None, f"'extra' must be an object, got {brief(extra)}")]
    if groups is not None and not isinstance(groups, dict):
        return [(None, f"'extra.groupNodes' must be an object of name -> group, got {brief(groups)}")]
    problems = []
    for name, group in (groups or {}).items():
        where = f"group node {name}: "
        if not (isinstance(group, dict) and isinstance(group.get("nodes"), list)):
            problems.append((None, f"extra.groupNodes {name!r} must be an object with 'nodes', got {brief(group)}"))
            continue
        indices = set()
        for i, node in enumerate(group["nodes"]):
            index = node.get("index", i) if isinstance(node, dict) else None
            if not isinstance(node, dict) or not _is_index(index) or index in indices:
                problems.append((None, f"{where}nodes[{i}] must be an object with its own 'index', got {brief(node)}"))
                continue
            indices.add(index)
            problems.extend((None, f"{where}nodes[{i}]: {p}") for p in _node_problems(node))
        links, external = group.get("links") or [], group.get("external") or []
        for key, value in (("links", links), ("external", external)):
            if not isinstance(value, list):
                problems.append((None, f"{where}'{key}' must be a list, got {brief(value)}"))
        for link in links if isinstance(links, list) else []:
            if not (isinstance(link, list) and len(link) >= 4 and (link[0] is None or _is_index(link[0]))
                    and all(_is_index(x) for x in link[1:4])):
                problems.append((None, f"{where}a link must be [origin index or null, slot, target index, slot, "
                                       f"...], got {brief(link)}"))
        for out in external if isinstance(external, list) else []:
            if not (isinstance(out, list) and len(out) >= 2 and _is_index(out[0]) and _is_index(out[1])):
                problems.append((None, f"{where}an external output must be [index, slot, ...], got {brief(out)}"))
    return problems


def _nesting_problems(subgraphs: dict) -> list:
    """A subgraph that contains itself, or subgraphs nested more than MAX_NESTING deep (walked in a loop)."""
    inner = {sid: list(dict.fromkeys(n["type"] for n in g["nodes"] if n["type"] in subgraphs))
             for sid, g in subgraphs.items()}
    depth = {}  # subgraph id -> levels of subgraphs it is, itself included
    for root in inner:
        path, todo = [root], [iter(inner[root])]
        while todo:
            child = next(todo[-1], None)
            if child is None:
                done = path.pop()
                todo.pop()
                depth[done] = 1 + max((depth[c] for c in inner[done]), default=0)
            elif child in path:
                return [(None, f"subgraph {child} contains itself")]
            elif child not in depth:
                path.append(child)
                todo.append(iter(inner[child]))
    deepest = max(depth.values(), default=0)
    if deepest > MAX_NESTING:
        return [(None, f"subgraphs nest more than {MAX_NESTING} deep ({deepest}); flatten some of them")]
    return []


def check_workflow(workflow: dict):
    """Refuse a UI workflow whose structure the converter cannot read, with every defect at once."""
    problems = _graph_problems(workflow, "") + _group_problems(workflow)
    definitions = workflow.get("definitions")
    subgraphs = (definitions or {}).get("subgraphs") if isinstance(definitions, dict) else None
    if definitions is not None and not (isinstance(definitions, dict) and isinstance(subgraphs or [], list)):
        problems.append((None, f"'definitions' must be an object with a list of subgraphs, got {brief(definitions)}"))
    for index, graph in enumerate(subgraphs if isinstance(subgraphs, list) else []):
        if not isinstance(graph, dict) or not _is_id(graph.get("id")):
            problems.append((None, f"subgraph {index} must be an object with an 'id', got {brief(graph)}"))
        else:
            problems.extend(_graph_problems(graph, f"subgraph {graph['id']}: ", subgraph=True))
    if not problems:
        problems = _nesting_problems({graph["id"]: graph for graph in subgraphs or []})
    if problems:
        raise GraphFormatError(f"malformed UI workflow, {len(problems)} problem(s):", problems)


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





class Value:
    """A literal reaching an input through a link (a PrimitiveNode's widget, a subgraph node's widget)."""

    def __init__(self, value):
        self.value = value


DROPPED = object()  # linked to a muted node: graphToPrompt leaves the input out


class Hop:
    """The next place a link leads (a step of input/output/subgraph_input with its arguments): chains of
    thousands of reroutes or bypassed nodes are walked in a loop, not by recursion."""

    def __init__(self, step, *args):
        self.step, self.args = step, args


def walk(result):
    while isinstance(result, Hop):
        result = result.step(*result.args)
    return result


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
        groups = (workflow.get("extra") or {}).get("groupNodes") or {}
        for node in list(self._all_nodes(workflow)):
            name = group_name(node["type"])
            if name is not None and name in groups:
                self.subgraphs[f"{node['type']}#{node['id']}"] = group_as_subgraph(groups[name], node)
                node["type"] = f"{node['type']}#{node['id']}"
            elif name is not None:
                raise GraphFormatError(f"node {node['id']} is group node {name!r}, but the workflow does not define it "
                                       "(extra.groupNodes)")

    def _all_nodes(self, workflow: dict):
        yield from workflow.get("nodes") or []
        for sub in self.subgraphs.values():
            yield from sub.get("nodes") or []

    def prompt(self) -> dict:
        out = {}
        self.emit(self.root, out)
        return out

    def emit(self, scope: Scope, out: dict):
        """Every real node of ``scope`` and of the subgraphs in it (check_workflow bounded their nesting)."""
        for node in scope.graph.get("nodes") or []:
            kind = node["type"]
            if kind in VIRTUAL or node.get("mode") in (MUTED, BYPASSED):
                continue
            if kind in self.subgraphs:
                self.emit(Scope(self.subgraphs[kind], (*scope.path, node["id"]), scope, node), out)
                continue
            out[scope.node_id(node)] = self.entry(scope, node)

    def entry(self, scope: Scope, node: dict) -> dict:
        kind = node["type"]
        cls = self.classes.get(kind)
        inputs = widget_values(node, cls) if cls is not None else {}
        inputs = {k: ({"__value__": v} if isinstance(v, list) else v) for k, v in inputs.items()}
        for slot, inp in enumerate(node.get("inputs") or []):
            source = walk(self.input(scope, node, slot))
            name = (inp.get("widget") or {}).get("name", inp["name"])
            if isinstance(source, Value):
                inputs[name] = source.value
            elif source is DROPPED:
                inputs.pop(name, None)
            elif source is not None:
                inputs[name] = list(source)
        return {"class_type": kind, "inputs": inputs, "_meta": {"title": node.get("title") or kind}}

    def input(self, scope: Scope, node: dict, slot: int, want=None, seen=frozenset()):
        """What feeds input ``slot`` of ``node``: (node id, output slot), a Value, None (unconnected) or DROPPED,
        or a Hop to the next place the link leads (``walk`` follows them).
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
            return Hop(self.subgraph_input, scope, origin_slot, want, seen)
        source = scope.nodes.get(origin)
        if source is None:
            return (":".join(str(p) for p in (*scope.path, origin)), origin_slot)  # validation reports it
        return Hop(self.output, scope, source, origin_slot, want, seen)

    def subgraph_input(self, scope: Scope, slot: int, want, seen):
        """Input ``slot`` of the subgraph, outside: the subgraph node's input of that name (the editor saves only
        some of them), else the widget it shows for it (``proxyWidgets`` entry ["-1", name])."""
        declared = scope.graph.get("inputs") or []
        name = declared[slot].get("name") if slot < len(declared) else None
        outer = scope.node.get("inputs") or []
        index = next((i for i, inp in enumerate(outer) if inp.get("name") == name), None)
        if index is not None and outer[index].get("link") is not None:
            return Hop(self.input, scope.parent, scope.node, index, want, seen)
        proxies = (scope.node.get("properties") or {}).get("proxyWidgets") or []
        values = scope.node.get("widgets_values")
        values = values if isinstance(values, list) else []
        at = proxies.index(["-1", name]) if ["-1", name] in proxies else -1
        return Value(values[at]) if 0 <= at < len(values) else None

    def output(self, scope: Scope, node: dict, slot: int, want, seen):
        mode, kind = node.get("mode"), node["type"]
        if mode == MUTED:
            return DROPPED
        if mode == BYPASSED:
            index = bypass_input(node, slot, want)
            return None if index < 0 else Hop(self.input, scope, node, index, None, seen)
        if kind == "PrimitiveNode":
            values = node.get("widgets_values") or []
            return Value(values[0]) if values else None
        if kind in VIRTUAL:  # Reroute passes its input through
            return Hop(self.input, scope, node, slot, want, seen) if slot < len(node.get("inputs") or []) else None
        if kind in self.subgraphs:  # the inner link that reaches the subgraph's output node at this slot
            inner = Scope(self.subgraphs[kind], (*scope.path, node["id"]), scope, node)
            outputs = self.subgraphs[kind].get("outputs") or []
            link = next(iter(outputs[slot].get("linkIds") or []), None) if slot < len(outputs) else None
            if link is None or link not in inner.links:
                return None
            origin, origin_slot = inner.links[link][:2]
            if origin == SUBGRAPH_INPUT:  # an input wired straight to an output
                return Hop(self.subgraph_input, inner, origin_slot, want, seen)
            source = inner.nodes.get(origin)
            return None if source is None else Hop(self.output, inner, source, origin_slot, want, seen)
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


def group_name(kind: str) -> str | None:
    """The name of a group node type ("workflow>name"; "workflow/name" in older frontends), else None."""
    for prefix in ("workflow>", "workflow/"):
        if isinstance(kind, str) and kind.startswith(prefix):
            return kind[len(prefix):]
    return None


def group_as_subgraph(group: dict, node: dict) -> dict:
    """A group node (``extra.groupNodes[name]``: inner nodes by index, links [origin index or null, slot,
    target index, slot, ...], external outputs) as the subgraph it amounts to. Its inputs are the inner inputs
    that are neither linked inside nor widgets, in node order; its outputs the external ones, or those not
    linked inside; its widget values, the inner nodes' in node order (as the group node shows and edits them)."""
    inner = [dict(n, id=n.get("index", i)) for i, n in enumerate(group.get("nodes") or [])]
    links = [list(link) for link in group.get("links") or []]
    internal = [link for link in links if link[0] is not None]
    targets = {(link[2], link[3]) for link in internal}
    exposed = [(n["id"], slot) for n in inner for slot, inp in enumerate(n.get("inputs") or [])
               if (n["id"], slot) not in targets and not inp.get("widget")]
    external = {(e[0], e[1]) for e in group.get("external") or []}
    sources = {(link[0], link[1]) for link in internal}
    outputs = [(n["id"], slot) for n in inner for slot, _ in enumerate(n.get("outputs") or [])
               if (n["id"], slot) in external or (n["id"], slot) not in sources]
    values = list(node.get("widgets_values") or [])
    if isinstance(node.get("widgets_values"), list) and len(values) == sum(len(n.get("widgets_values") or [])
                                                                          for n in inner):
        for n in inner:
            count = len(n.get("widgets_values") or [])
            n["widgets_values"], values = values[:count], values[count:]
    graph_links = [{"id": i, "origin_id": o, "origin_slot": os_, "target_id": t, "target_slot": ts}
                   for i, (o, os_, t, ts, *_) in enumerate(internal)]
    names = [inp.get("name") for inp in node.get("inputs") or []]
    graph_inputs = []
    for k, (t, ts) in enumerate(exposed):
        graph_links.append({"id": f"in{k}", "origin_id": SUBGRAPH_INPUT, "origin_slot": k, "target_id": t,
                            "target_slot": ts})
        graph_inputs.append({"name": names[k] if k < len(names) else f"input {k}", "linkIds": [f"in{k}"]})
    graph_outputs = []
    for k, (o, os_) in enumerate(outputs):
        graph_links.append({"id": f"out{k}", "origin_id": o, "origin_slot": os_, "target_id": SUBGRAPH_OUTPUT,
                            "target_slot": k})
        graph_outputs.append({"linkIds": [f"out{k}"]})
    for n in inner:  # the inner inputs' links, by the ids given above
        for slot, inp in enumerate(n.get("inputs") or []):
            inp["link"] = next((link["id"] for link in graph_links
                                if link["target_id"] == n["id"] and link["target_slot"] == slot), None)
    return {"nodes": inner, "links": graph_links, "inputs": graph_inputs, "outputs": graph_outputs}


def workflow_to_prompt(workflow: dict, node_classes: dict) -> dict:
    """The API prompt ComfyUI's frontend queues for this UI workflow, or GraphFormatError for one whose
    structure cannot be read."""
    check_workflow(workflow)
    return Converter(json.loads(json.dumps(workflow)), node_classes).prompt()


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
    info = read_json(path, "an /object_info JSON file saved from a running ComfyUI")
    if not isinstance(info, dict) or not all(isinstance(v, dict) and "input" in v for v in info.values()):
        raise GraphFormatError(f"{path}: not ComfyUI's /object_info (a map of node name -> {{input, output, ...}})")
    problems = [(name, p) for name, entry in info.items() for p in _info_problems(entry)]
    if problems:
        raise GraphFormatError(f"{path}: malformed /object_info, {len(problems)} problem(s):", problems)
    return {name: InfoNode(name, entry) for name, entry in info.items()}


def _info_problems(entry: dict) -> list[str]:
    """What makes one node's /object_info entry unreadable as INPUT_TYPES and RETURN_TYPES."""
    spec, out = entry["input"], []
    if not isinstance(spec, dict):
        return [f"'input' must be an object of required/optional inputs, got {brief(spec)}"]
    if not isinstance(entry.get("output") or [], list):
        out.append(f"'output' must be a list of types, got {brief(entry.get('output'))}")
    for section in ("required", "optional", "hidden"):
        inputs = spec.get(section) or {}
        if not isinstance(inputs, dict):
            out.append(f"'input.{section}' must be an object of input name -> declaration, got {brief(inputs)}")
            continue
        for name, decl in inputs.items() if section != "hidden" else ():
            if not (isinstance(decl, list) and decl and isinstance(decl[0], (str, list))):
                out.append(f"input {name!r} must be a list [type or choices, options], got {brief(decl)}")
            elif len(decl) > 1 and not isinstance(decl[1], dict):
                out.append(f"input {name!r}: the options must be an object, got {brief(decl[1])}")
            elif decl[0] == "COMBO" and not isinstance((decl[1] if len(decl) > 1 else {}).get("options", []), list):
                out.append(f"input {name!r}: 'options' must be a list of choices, got {brief(decl[1]['options'])}")
    return out
