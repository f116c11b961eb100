"""Whole-graph validation before anything runs, every problem reported at once
(the checks of ComfyUI's validate_prompt)."""
from __future__ import annotations

import difflib
import math
from dataclasses import asdict, dataclass


@dataclass
class Problem:
    node_id: str
    node_type: str
    input: str | None
    type: str
    message: str

    def __str__(self):
        where = f"node {self.node_id} ({self.node_type})" + (f", input '{self.input}'" if self.input else "")
        return f"{where}: {self.message}"

    def to_dict(self):
        return asdict(self)


def is_link(value) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], (str, int)) and isinstance(value[1], int)


def input_decls(cls) -> dict:
    spec = cls.INPUT_TYPES()
    return {"required": spec.get("required", {}), "optional": spec.get("optional", {})}


def convert_literal(kind, opts: dict, value):
    """The literal as the node will receive it, or raise ValueError saying what is wrong."""
    if isinstance(kind, list):
        if value not in kind:
            close = difflib.get_close_matches(str(value), [str(k) for k in kind], n=3)
            raise ValueError(f"value {value!r} is not one of the choices" + (f" (did you mean {', '.join(close)}?)"
                                                                             if close else f" {kind[:10]}"))
        return value
    if kind in ("INT", "FLOAT"):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(f"expected a number, got {value!r}")
        try:
            number = int(value) if kind == "INT" else float(value)
        except ValueError:
            raise ValueError(f"expected {'an integer' if kind == 'INT' else 'a number'}, got {value!r}") from None
        if kind == "FLOAT" and not math.isfinite(number):
            raise ValueError(f"expected a finite number, got {value!r}")
        if "min" in opts and number < opts["min"]:
            raise ValueError(f"value {number} is smaller than min {opts['min']}")
        if "max" in opts and number > opts["max"]:
            raise ValueError(f"value {number} is bigger than max {opts['max']}")
        return number
    if kind == "BOOLEAN":
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {value!r}")
        return value
    if kind == "STRING":
        if not isinstance(value, str):
            raise ValueError(f"expected text, got {value!r}")
        return value
    raise ValueError(f"a {kind} input must be connected to a node's output, not given a literal {value!r}")


def types_match(produced: str, expected) -> bool:
    if isinstance(expected, list):
        return produced in ("COMBO", "*") or isinstance(produced, list)
    produced_set, expected_set = set(str(produced).split(",")), set(str(expected).split(","))
    return "*" in produced_set or "*" in expected_set or bool(produced_set & expected_set)


def find_cycle(prompt: dict) -> list[str] | None:
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for v in prompt[n]["inputs"].values():
            if is_link(v) and str(v[0]) in prompt:
                m = str(v[0])
                if state.get(m) == 1:
                    return stack[stack.index(m):] + [m]
                if m not in state and (cycle := visit(m)):
                    return cycle
        stack.pop()
        state[n] = 2
        return None

    for n in prompt:
        if n not in state and (cycle := visit(n)):
            return cycle
    return None


def validate(prompt: dict, node_classes: dict) -> list[Problem]:
    problems: list[Problem] = []
    add = lambda nid, t, inp, code, msg: problems.append(Problem(nid, t, inp, code, msg))
    for nid, node in prompt.items():
        kind = node["class_type"]
        cls = node_classes.get(kind)
        if cls is None:
            close = difflib.get_close_matches(kind, list(node_classes), n=3)
            add(nid, kind, None, "invalid_node_type", f"unknown node type {kind!r}" +
                (f"; did you mean {', '.join(close)}?" if close else "; is its node pack installed?"))
            continue
        decls = input_decls(cls)
        literals = {}
        for section, entries in decls.items():
            for name, decl in entries.items():
                expected, opts = decl[0], (decl[1] if len(decl) > 1 else {})
                if name not in node["inputs"]:
                    if section == "required":
                        add(nid, kind, name, "required_input_missing", "required input is missing")
                    continue
                value = node["inputs"][name]
                if is_link(value):
                    src_id, slot = str(value[0]), value[1]
                    src = prompt.get(src_id)
                    if src is None:
                        add(nid, kind, name, "missing_link_source", f"linked to node {src_id}, which is not in the graph")
                        continue
                    src_cls = node_classes.get(src["class_type"])
                    if src_cls is None:
                        continue  # reported on the source node
                    if not 0 <= slot < len(src_cls.RETURN_TYPES):
                        add(nid, kind, name, "bad_linked_output", f"linked to output {slot} of node {src_id} "
                            f"({src['class_type']}), which has {len(src_cls.RETURN_TYPES)} outputs")
                    elif not types_match(src_cls.RETURN_TYPES[slot], expected):
                        add(nid, kind, name, "return_type_mismatch", f"expects {expected if isinstance(expected, str) else 'a choice'}"
                            f" but node {src_id} ({src['class_type']}) output {slot} is {src_cls.RETURN_TYPES[slot]}")
                    continue
                if hasattr(cls, "VALIDATE_INPUTS") and name in _validate_args(cls):
                    literals[name] = value
                    continue
                try:
                    literals[name] = convert_literal(expected, opts, value)
                except ValueError as e:
                    add(nid, kind, name, "value_not_valid", str(e))
        if hasattr(cls, "VALIDATE_INPUTS"):
            args = {k: v for k, v in literals.items() if k in _validate_args(cls)}
            verdict = cls.VALIDATE_INPUTS(**args)
            if verdict is not True:
                add(nid, kind, None, "custom_validation_failed", str(verdict))
    cycle = find_cycle(prompt)
    if cycle:
        add(cycle[0], prompt[cycle[0]]["class_type"], None, "cycle", "the graph has a cycle: " + " -> ".join(cycle))
    if not any(getattr(node_classes.get(n["class_type"]), "OUTPUT_NODE", False) for n in prompt.values()):
        add("", "", None, "prompt_no_outputs", "the graph has no output node (e.g. SaveImage or PreviewImage)")
    return problems


def _validate_args(cls) -> set:
    import inspect

    return set(inspect.signature(cls.VALIDATE_INPUTS).parameters) - {"cls", "input_types"}
