"""UI workflow ("Save": nodes / links / widgets_values) -> API prompt, as the ComfyUI frontend's graphToPrompt
makes it (checked against frontend 1.35 and 1.58, and on ComfyUI's official templates: bench/convert_templates.py).

A workflow's structure is checked first (``check_workflow``: every defect at once, naming the node), so
that ``noisekit run`` and ``noisekit convert`` refuse a malformed file with the same clear message. Every
real node becomes one prompt entry; its widget values are mapped to input names with the node's
INPUT_TYPES (its class, or /object_info recorded from a ComfyUI: ``object_info_classes``) as the frontend
lays out its widgets (``WidgetReader``: V3 DynamicCombo sub-inputs, value controls, the defaults of values an
older save lacks); values that do not fit are warned about (or refused: ``strict``). Notes and groups are
ignored. Inner nodes of subgraphs whose ids collide with others' are renumbered first, as the newest frontend
does on load (``renumber_inner_ids``). Links are followed to the real output that feeds them:

- through Reroutes, and from PrimitiveNodes (their value becomes the input's literal);
- through bypassed nodes (mode 4: an output is fed by the node's input of the matching type);
- muted nodes (mode 2) are dropped, and so is every input linked to them;
- group nodes (``workflow>name``, defined in ``extra.groupNodes``) as the subgraphs they amount to;
- into and out of subgraphs: a node whose type is the id of one of ``definitions.subgraphs`` is expanded
  to its inner nodes, with ids ``outer:inner`` (``7:6:4`` when nested); a link from the subgraph's input
  node (id -10) continues at the subgraph node's input of the same name outside, or takes the value of
  the widget the subgraph node shows for it (``proxyWidgets``, or in older saves each input that feeds an
  inner widget); an output of the subgraph node is the inner link to its
  output node (id -20). A muted or bypassed subgraph node acts as one muted or bypassed node.
"""
from __future__ import annotations

import itertools
import json
import sys

from .formats import MAX_NESTING, brief, read_json
from .outcome import GraphFormatError
from .validate import parse_input_decl

WIDGET_TYPES = ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO")
DYNAMIC_COMBO = "COMFY_DYNAMICCOMBO_V3"  # V3: a combo whose choice brings its own inputs (Autogrow, MatchType are sockets)
CONTROL_VALUES = ("fixed", "increment", "decrement", "randomize")
SEED_NAMES = ("seed", "noise_seed")  # the frontend adds a control widget to these unless the input says not to
UPLOAD_FLAGS = ("image_upload", "video_upload", "animated_image_upload")  # a combo with one gets an upload button
FRONTEND_WIDGETS = {"SaveGLB": {"image": ""}, "Preview3D": {"image": ""}}  # added by the frontend's 3D viewer, queued
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


def is_widget(kind, opts: dict) -> bool:
    """The frontend makes a widget (a value saved in widgets_values) for a combo or a plain value type, and for
    a V3 MultiType input whose first type is one (``widgetType``), unless the input is forced to a socket."""
    return (isinstance(kind, list) or kind in WIDGET_TYPES or opts.get("widgetType") in WIDGET_TYPES) and \
        not opts.get("forceInput")


def controls(name: str, kind, opts: dict) -> int:
    """How many value-control widgets the frontend adds after a widget: "control_after_generate" after an INT
    that asks for it (by default every INT named seed/noise_seed), a FLOAT or a combo that asks for it, and a
    combo's filter list after its control."""
    if kind == "INT":
        return int(bool(opts.get("control_after_generate", name in SEED_NAMES)))
    if opts.get("control_after_generate"):
        return 2 if isinstance(kind, list) else 1
    return 0


def widget_default(kind, opts: dict):
    """The value a widget starts with (what an older save that lacks it gets), as the frontend sets it."""
    if isinstance(kind, list) or kind == DYNAMIC_COMBO:
        choices = kind if isinstance(kind, list) else [o.get("key") for o in opts.get("options") or []]
        return opts.get("default") or (choices[0] if choices else None)
    return opts.get("default", {"INT": 0, "FLOAT": 0, "BOOLEAN": False, "STRING": ""}.get(opts.get("widgetType", kind)))


def widget_inputs(cls) -> list[tuple[str, bool]]:
    """(name, followed by control values) for each widget input of a node without dynamic (V3) inputs."""
    out = []
    for name, decl in _declared(cls.INPUT_TYPES()):
        kind, opts = parse_input_decl(decl)
        if is_widget(kind, opts):
            out.append((name, controls(name, kind, opts) > 0))
    return out


def _declared(spec: dict):
    return [(name, decl) for section in ("required", "optional") for name, decl in (spec.get(section) or {}).items()]


class WidgetReader:
    """A node's saved widgets_values read as the frontend reads them: in input order (required, then optional),
    a DynamicCombo's key followed by the widgets of the option it selects (named ``combo.input``, nested
    depth-first), the control values after their widget. A value the save lacks is the widget's default;
    ``values`` keeps what is left (the buttons the frontend appends, then values beyond the widgets)."""

    def __init__(self, values):
        self.values, self.out, self.mismatched = list(values), {}, []

    def take(self, default):
        return self.values.pop(0) if self.values else default

    def read(self, spec: dict, prefix: str = ""):
        for name, decl in _declared(spec):
            kind, opts = parse_input_decl(decl)
            if kind == DYNAMIC_COMBO:
                options = {o.get("key"): o.get("inputs") or {} for o in opts.get("options") or []}
                key = self.out[prefix + name] = self.take(widget_default(kind, opts))
                if key in options:
                    self.read(options[key], f"{prefix}{name}.")
            elif is_widget(kind, opts):
                self.set(prefix + name, opts.get("widgetType", kind), self.take(widget_default(kind, opts)))
                self.skip_controls(controls(name, kind, opts))

    def set(self, name: str, kind, value):
        if wrong_type(kind, value):
            self.mismatched.append(f"widget {name!r} ({kind}) has the value {brief(value)}")
        self.out[name] = value

    def skip_controls(self, count: int):
        """Older saves have no control values: only a control value (and the filter list after it) is skipped."""
        if count and self.values and self.values[0] in CONTROL_VALUES + ("increment-wrap",):
            del self.values[:count]


def wrong_type(kind, value) -> bool:
    """A number widget given no number, or a toggle no boolean: a sign that saved values have shifted."""
    if kind in ("INT", "FLOAT"):
        return not isinstance(value, (int, float)) or isinstance(value, bool)
    return kind == "BOOLEAN" and not isinstance(value, bool)


def declared_kind(cls, name: str):
    decl = dict(_declared(cls.INPUT_TYPES())).get(name)
    return None if decl is None else parse_input_decl(decl)[0]


def widget_values(node: dict, cls) -> tuple[dict, list[str]]:
    """(widget input name -> value, what does not fit: values beyond the node's widgets, values of the wrong
    type for their widget)."""
    values = node.get("widgets_values")
    if isinstance(values, dict):  # some frontends save {name: value}
        return dict(values), []
    reader = WidgetReader(values or [])
    spec = cls.INPUT_TYPES()
    reader.read(spec)
    if any(parse_input_decl(decl)[1].get(flag) for _, decl in _declared(spec) for flag in UPLOAD_FLAGS):
        reader.take(None)  # the upload button's value
    for name, default in FRONTEND_WIDGETS.get(node["type"], {}).items():
        reader.out[name] = reader.take(default)
    problems = reader.mismatched
    dropped = [v for v in reader.values if v is not None]  # a display widget's empty value loses nothing
    if dropped:
        problems.append(f"{len(dropped)} widget value(s) more than its widgets, dropped: "
                        f"{', '.join(brief(v) for v in dropped)}")
    return reader.out, problems


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
        self.classes, self.misfits = node_classes, []  # misfits: (node id, saved widget values that do not fit)
        self.subgraphs = {s["id"]: s for s in workflow_subgraphs(workflow)}
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
                inner = Scope(self.subgraphs[kind], (*scope.path, node["id"]), scope, node)
                values, shown = node.get("widgets_values"), len(self.shown(inner))
                if isinstance(values, list) and len(values) > shown:
                    why = f"{len(values)} widget values for {shown} widgets, the last dropped"
                    self.misfits.append((scope.node_id(node), f"(subgraph {inner.graph.get('name') or kind}) {why}"))
                self.emit(inner, out)
                continue
            out[scope.node_id(node)] = self.entry(scope, node)

    def entry(self, scope: Scope, node: dict) -> dict:
        kind = node["type"]
        cls = self.classes.get(kind)
        inputs, misfits = widget_values(node, cls) if cls is not None else ({}, [])
        self.misfits.extend((scope.node_id(node), f"({kind}) {why}") for why in misfits)
        inputs = {k: ({"__value__": v} if isinstance(v, list) else v) for k, v in inputs.items()}
        for slot, inp in enumerate(node.get("inputs") or []):
            source = walk(self.input(scope, node, slot))
            name = (inp.get("widget") or {}).get("name", inp["name"])
            if isinstance(source, Value):
                inputs[name] = source.value
                if cls is not None and wrong_type(declared_kind(cls, name), source.value):
                    self.misfits.append((scope.node_id(node), f"({kind}) widget {name!r} gets {brief(source.value)} "
                                                              "from the subgraph node's widgets"))
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
        shown, values = self.shown(scope), scope.node.get("widgets_values")
        values = values if isinstance(values, list) else []
        at = shown.index(name) if name in shown else -1
        return Value(values[at]) if 0 <= at < len(values) else None

    def shown(self, scope: Scope) -> list:
        """The names of the subgraph's inputs whose widgets its subgraph node shows, in the order of its
        widgets_values: its ``proxyWidgets`` entries ["-1", name], or, saved before those, each input that feeds
        an inner widget."""
        properties = scope.node.get("properties") or {}
        if "proxyWidgets" in properties:
            return [proxy[1] for proxy in properties["proxyWidgets"] or [] if proxy[:1] == ["-1"]]
        return [i.get("name") for i in scope.graph.get("inputs") or [] if self.feeds_widget(scope, i)]

    def feeds_widget(self, scope: Scope, declared: dict) -> bool:
        """Whether a subgraph input's (first) link ends at a widget its inner node has."""
        link = scope.links.get(next(iter(declared.get("linkIds") or []), None))
        target = scope.nodes.get(link[2]) if link else None
        slots = (target or {}).get("inputs") or []
        widget = (slots[link[3]].get("widget") or {}).get("name") if target and link[3] < len(slots) else None
        if widget is None or target["type"] in self.subgraphs:
            return widget is not None
        cls = self.classes.get(target["type"])
        return cls is not None and widget in widget_values(target, cls)[0]

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


def renumber_inner_ids(workflow: dict) -> list[str]:
    """Give a subgraph's inner node whose id is taken (by a top-level node, or by a node of an earlier subgraph
    definition) the next free id after ``last_node_id``, as the newest frontend (1.58) does when it loads a
    workflow, so that prompt ids (``outer:inner``) are the ones it queues; the links and the subgraph nodes'
    ``proxyWidgets`` that name the node follow. Returns a line per renumbered node."""
    last = workflow.get("last_node_id", (workflow.get("state") or {}).get("lastNodeId", 0))
    last = last if _is_index(last) else 0
    taken = {str(n["id"]) for n in workflow["nodes"]}
    numbers = {n["id"] for n in workflow["nodes"] if _is_index(n["id"])}
    subgraphs = workflow_subgraphs(workflow)
    users = [n for graph in [workflow, *subgraphs] for n in graph["nodes"]]
    notes = []
    for graph in subgraphs:
        moved = {}
        for node in graph["nodes"]:
            if str(node["id"]) in taken:
                last = next(i for i in itertools.count(last + 1) if i not in numbers)
                moved[node["id"]] = node["id"] = last
            elif _is_index(node["id"]):
                last = max(last, node["id"])
            taken.add(str(node["id"]))
            numbers.add(node["id"])
        instances = [n for n in users if n["type"] == graph["id"]]
        if moved and instances:
            _follow(graph, moved, instances)
            notes.extend(f"subgraph {graph.get('name') or graph['id']!r}: its node {old} is node {new}, as the newest "
                         "ComfyUI frontend renumbers an id that another node has; prompt ids (--set, errors) end in "
                         f":{new}" for old, new in moved.items())
    return notes


def workflow_subgraphs(workflow: dict) -> list:
    """The subgraph definitions, the first of each id (the frontend keeps the first of duplicates)."""
    first = {}
    for graph in (workflow.get("definitions") or {}).get("subgraphs") or []:
        first.setdefault(graph["id"], graph)
    return list(first.values())


def _follow(graph: dict, moved: dict, users: list):
    """Point the subgraph's links, and its nodes' ``proxyWidgets`` outside, at the renumbered inner nodes."""
    for link in graph.get("links") or []:
        for key, at in (("origin_id", 1), ("target_id", 3)):
            if isinstance(link, dict) and link.get(key) in moved:
                link[key] = moved[link[key]]
            elif isinstance(link, list) and link[at] in moved:
                link[at] = moved[link[at]]
    by_text = {str(old): str(new) for old, new in moved.items()}
    for node in users:
        for proxy in (node.get("properties") or {}).get("proxyWidgets") or []:
            if proxy and str(proxy[0]) in by_text:
                proxy[0] = by_text[str(proxy[0])]


def _stderr(message: str):
    print(f"noisekit: warning: {message}", file=sys.stderr)


def workflow_to_prompt(workflow: dict, node_classes: dict, strict: bool = False, warn=_stderr) -> dict:
    """The API prompt ComfyUI's frontend queues for this UI workflow, or GraphFormatError for one whose
    structure cannot be read. Saved widget values that do not fit a node's widgets (more values than widgets,
    a value of the wrong type) are dropped or queued as the frontend does and ``warn``-ed about, or with
    ``strict`` refused, naming each node; renumbered subgraph nodes are ``warn``-ed about too."""
    check_workflow(workflow)
    workflow = json.loads(json.dumps(workflow))
    notes = renumber_inner_ids(workflow)
    converter = Converter(workflow, node_classes)
    prompt = converter.prompt()
    if strict and converter.misfits:
        raise GraphFormatError(f"saved widget values do not fit {len(converter.misfits)} node(s) (--strict):",
                               converter.misfits)
    for line in notes + [f"node {node_id} {why}" for node_id, why in converter.misfits]:
        warn(line)
    return prompt


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
