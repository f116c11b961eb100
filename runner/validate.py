"""Whole-graph validation before anything runs, every problem reported at once.

The checks and error codes of ComfyUI's validate_prompt / validate_inputs: unknown
node types anywhere (``invalid_prompt``, with the closest known names), then for
every output node and its ancestors: ``required_input_missing``,
``bad_linked_input`` (malformed link, missing node or output index),
``return_type_mismatch``, ``invalid_input_type`` (a literal of the wrong type),
``value_smaller_than_min`` / ``value_bigger_than_max``, ``value_not_in_list``,
``custom_validation_failed`` (VALIDATE_INPUTS), plus ``dependency_cycle`` and
``prompt_no_outputs``. Literals are converted to their declared types here
(INT, FLOAT, STRING, BOOLEAN) and the executor receives the converted values.
"""
from __future__ import annotations

import difflib
import inspect
import math

from .core_nodes import core_node_hint
from .formats import is_link, link_sources
from .outcome import Problem


def parse_input_decl(decl) -> tuple[object, dict]:
    """(type, options) of one INPUT_TYPES entry; the type is a list of choices for a combo."""
    kind = decl[0] if isinstance(decl, (tuple, list)) and decl else decl
    opts = decl[1] if isinstance(decl, (tuple, list)) and len(decl) > 1 and isinstance(decl[1], dict) else {}
    if kind == "COMBO":  # new-style combo: ("COMBO", {"options": [...]})
        kind = list(opts.get("options", []))
    return (list(kind) if isinstance(kind, (list, tuple)) else kind), opts


def declared_inputs(spec: dict) -> dict:
    """name -> (type, options, "required"|"optional") from an INPUT_TYPES dict."""
    return {name: (*parse_input_decl(decl), section) for section in ("required", "optional")
            for name, decl in (spec.get(section) or {}).items()}


def types_match(received, expected) -> bool:
    """ComfyUI's validate_node_input (non-strict): equal, '*' on either side, a combo list
    into a combo, or overlapping comma-separated unions."""
    if isinstance(expected, list):
        return isinstance(received, list) or received in ("COMBO", "*")
    if received == expected or received == "*" or expected == "*":
        return True
    if not isinstance(received, str) or not isinstance(expected, str):
        return False
    received_set = {t.strip() for t in received.split(",")}
    expected_set = {t.strip() for t in expected.split(",")}
    return "*" in received_set or "*" in expected_set or bool(received_set & expected_set)


def convert_literal(kind, value):
    """The literal as the node receives it (INT/FLOAT/STRING/BOOLEAN conversion), or TypeError."""
    if isinstance(value, str) and "\x00" in value:
        raise TypeError("the text contains a NUL character (\\x00); remove it")
    if kind in ("INT", "FLOAT") and (isinstance(value, bool) or not isinstance(value, (int, float, str))):
        raise TypeError(f"expected {'an integer' if kind == 'INT' else 'a number'}, got {value!r}")
    if kind == "INT" and isinstance(value, int):
        return value  # exact, however large: the range check refuses what the node cannot take
    if kind == "INT":
        try:
            number = float(value)
        except (ValueError, OverflowError):
            raise TypeError(f"expected an integer, got {value!r}") from None
        if not number.is_integer():
            raise TypeError(f"expected an integer, got {value!r}")
        return int(number)
    if kind == "FLOAT":
        try:
            number = float(value)
        except (ValueError, OverflowError):
            raise TypeError(f"expected a number, got {_short(value)}") from None
        if not math.isfinite(number):
            raise TypeError(f"expected a finite number, got {value!r}")
        return number
    if kind == "STRING":
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise TypeError(f"expected text, got {value!r}")
        return str(value)
    if kind == "BOOLEAN":
        if not isinstance(value, bool):
            raise TypeError(f"expected true or false, got {value!r}")
        return value
    if isinstance(kind, list) or kind == "*":
        return value
    raise TypeError(f"a {kind} input takes a link from a node's {kind} output, not the literal {value!r}")


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}... ({len(text)} characters)"


def check_range(opts: dict, value) -> tuple[str, str] | None:
    if "min" in opts and value < opts["min"]:
        return "value_smaller_than_min", f"value {_short(value)} is smaller than the minimum {opts['min']}"
    if "max" in opts and value > opts["max"]:
        return "value_bigger_than_max", f"value {_short(value)} is bigger than the maximum {opts['max']}"
    return None


def check_choice(choices: list, value) -> str | None:
    if value in choices:
        return None
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else (
        f"choices: {choices}" if len(choices) <= 20 else f"{len(choices)} choices")
    return f"{value!r} is not one of the choices; {hint}"


def validate_function(cls) -> tuple[list[str], bool]:
    """(argument names, takes **kwargs) of the class's VALIDATE_INPUTS, as ComfyUI reads them."""
    fn = getattr(cls, "VALIDATE_INPUTS", None)
    if fn is None:
        return [], False
    spec = inspect.getfullargspec(fn)
    return [a for a in spec.args if a not in ("self", "cls", "s")], spec.varkw is not None


def output_nodes(prompt: dict, node_classes: dict) -> list[str]:
    return [n for n, node in prompt.items()
            if getattr(node_classes.get(node.get("class_type")), "OUTPUT_NODE", False) is True]


def ancestors(prompt: dict, targets) -> set:
    seen, todo = set(), list(targets)
    while todo:
        n = todo.pop()
        if n in seen or n not in prompt:
            continue
        seen.add(n)
        todo.extend(link_sources(prompt[n]))
    return seen


def find_cycle(prompt: dict, nodes: set) -> list[str] | None:
    """A dependency cycle among ``nodes`` as [a, b, ..., a], or None (an iterative depth-first walk, so a
    chain of any length is fine)."""
    state = {}
    for root in sorted(nodes):
        if root in state:
            continue
        state[root], path, todo = "open", [root], [iter(link_sources(prompt[root]))]
        while todo:
            for m in todo[-1]:
                if m not in nodes:
                    continue
                if state.get(m) == "open":
                    return path[path.index(m):] + [m]
                if m not in state:
                    state[m] = "open"
                    path.append(m)
                    todo.append(iter(link_sources(prompt[m])))
                    break
            else:
                state[path.pop()] = "done"
                todo.pop()
    return None


class Checker:
    """Validates one prompt; ``literals`` holds each checked node's converted literal inputs."""

    def __init__(self, prompt: dict, node_classes: dict):
        self.prompt, self.classes = prompt, node_classes
        self.problems: list[Problem] = []
        self.literals: dict[str, dict] = {}
        self.specs: dict[str, dict] = {}

    def add(self, node_id, input_name, code, message):
        node_type = self.prompt[node_id].get("class_type") if node_id is not None else None
        self.problems.append(Problem(node_id, node_type, input_name, code, message))

    def spec(self, node_id) -> dict:
        """INPUT_TYPES of the node's class, called once per class per validation (it may list files)."""
        kind = self.prompt[node_id]["class_type"]
        if kind not in self.specs:
            self.specs[kind] = self.classes[kind].INPUT_TYPES()
        return self.specs[kind]

    def run(self) -> list[Problem]:
        for node_id, node in self.prompt.items():
            kind = node.get("class_type")
            if not isinstance(kind, str):
                self.add(node_id, None, "invalid_prompt", "the node has no 'class_type'")
            elif kind not in self.classes:
                close = difflib.get_close_matches(kind, list(self.classes), n=3, cutoff=0.6)
                self.add(node_id, None, "invalid_prompt", core_node_hint(kind) or f"unknown node type {kind!r}; " + (
                    f"did you mean {', '.join(close)}?" if close else "is the node pack that provides it installed?"))
        known = {n for n, node in self.prompt.items() if node.get("class_type") in self.classes}
        outputs = output_nodes(self.prompt, self.classes)
        if not outputs:
            self.add(None, None, "prompt_no_outputs", "the graph has no output node (e.g. SaveImage or "
                                                      "PreviewImage), so nothing would run")
        scope = sorted(ancestors(self.prompt, outputs) & known)
        for node_id in scope:
            try:
                self.check_node(node_id)
            except Exception as e:  # INPUT_TYPES or VALIDATE_INPUTS itself failing
                self.add(node_id, None, "exception_during_validation", f"{type(e).__name__}: {e}")
        cycle = find_cycle(self.prompt, set(scope))
        if cycle:
            self.add(cycle[0], None, "dependency_cycle", "the graph has a cycle: " + " -> ".join(cycle))
        return self.problems

    def check_node(self, node_id):
        cls, inputs = self.classes[self.prompt[node_id]["class_type"]], self.prompt[node_id]["inputs"]
        custom, custom_kwargs = validate_function(cls)
        literals, received = {}, {}
        for name, (kind, opts, section) in declared_inputs(self.spec(node_id)).items():
            if name not in inputs:
                if section == "required":
                    self.add(node_id, name, "required_input_missing", "required input is missing (connect it or "
                                                                      "give it a value)")
                continue
            value = inputs[name]
            if isinstance(value, list):  # a link; literal lists come wrapped as {"__value__": [...]}
                received[name] = self.check_link(node_id, name, kind, value, "input_types" in custom)
                continue
            if isinstance(value, dict) and "__value__" in value:
                value = value["__value__"]
            try:
                value = convert_literal(kind, value)
            except TypeError as e:
                self.add(node_id, name, "invalid_input_type", str(e))
                continue
            literals[name] = value
            if name in custom or custom_kwargs:
                continue  # VALIDATE_INPUTS takes this input: ComfyUI skips its range and choice checks
            if isinstance(kind, list):
                if (message := check_choice(kind, value)) is not None:
                    self.add(node_id, name, "value_not_in_list", message)
            elif kind in ("INT", "FLOAT") and (out_of_range := check_range(opts, value)) is not None:
                self.add(node_id, name, *out_of_range)
        self.literals[node_id] = literals
        if custom or custom_kwargs:
            self.custom_validation(node_id, cls, literals, received, custom, custom_kwargs)

    def check_link(self, node_id, name, expected, value, skip_type_check):
        """The type the link delivers (None when the link itself is bad)."""
        if not is_link(value):
            self.add(node_id, name, "bad_linked_input", f"a link must be [node_id, output_index], got {value!r}")
            return None
        source_id, slot = value
        source = self.prompt.get(source_id)
        if source is None:
            self.add(node_id, name, "bad_linked_input", f"linked to node {source_id}, which is not in the graph")
            return None
        source_cls = self.classes.get(source.get("class_type"))
        if source_cls is None:
            return None  # reported on the source node
        outputs = tuple(source_cls.RETURN_TYPES)
        if not 0 <= slot < len(outputs):
            self.add(node_id, name, "bad_linked_input", f"linked to output {slot} of node {source_id} "
                     f"({source['class_type']}), which has {len(outputs)} output(s)")
            return None
        if not skip_type_check and not types_match(outputs[slot], expected):
            wanted = "a choice" if isinstance(expected, list) else expected
            self.add(node_id, name, "return_type_mismatch", f"expects {wanted} but is linked to output {slot} of node "
                     f"{source_id} ({source['class_type']}), which gives {outputs[slot]}")
        return outputs[slot]

    def custom_validation(self, node_id, cls, literals, received, custom, custom_kwargs):
        """Call VALIDATE_INPUTS as ComfyUI does: its literal inputs (linked ones as None) and, if it asks,
        input_types; anything but True is a problem on each input it was given."""
        inputs = self.prompt[node_id]["inputs"]
        args = {name: literals.get(name) for name in inputs if name in literals or name in received}
        args = {k: v for k, v in args.items() if custom_kwargs or k in custom}
        if "input_types" in custom:
            args["input_types"] = received
        verdict = cls.VALIDATE_INPUTS(**args)
        if verdict is True:
            return
        message = "custom validation failed" + ("" if verdict is False else f": {verdict}")
        for name in [k for k in args if k != "input_types"] or [None]:
            self.add(node_id, name, "custom_validation_failed", message)


def check_graph(prompt: dict, node_classes: dict) -> tuple[list[Problem], dict[str, dict]]:
    """(every problem, per checked node its literal inputs converted to their declared types)."""
    checker = Checker(prompt, node_classes)
    return checker.run(), checker.literals


def validate(prompt: dict, node_classes: dict) -> list[Problem]:
    return check_graph(prompt, node_classes)[0]
