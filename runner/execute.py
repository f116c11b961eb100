"""Execution like ComfyUI's: only the nodes that feed an output node, in dependency
order, each once, with outputs cached across runs by the signature of their inputs,
so a rerun after one change re-executes only what is downstream of it."""
from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field

from .. import progress
from .validate import Problem, convert_literal, input_decls, is_link, validate


class GraphInvalid(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("invalid graph:\n" + "\n".join(f"  - {p}" for p in problems))


class NodeFailed(Exception):
    def __init__(self, node_id: str, node_type: str, error: BaseException):
        self.node_id, self.node_type, self.error = node_id, node_type, error
        found = re.search(r"input '([^']+)'", str(error))
        self.input = found.group(1) if found else None
        super().__init__(f"node {node_id} ({node_type}) failed: {type(error).__name__}: {error}")

    def to_dict(self):
        return {"node_id": self.node_id, "node_type": self.node_type, "input": self.input,
                "type": type(self.error).__name__, "message": str(self.error)}


@dataclass
class RunResult:
    outputs: dict = field(default_factory=dict)  # node id -> output tuple
    ui: dict = field(default_factory=dict)  # node id -> ui dict of output nodes
    executed: list = field(default_factory=list)
    cached: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)


def ancestors(prompt: dict, targets) -> set:
    seen, todo = set(), list(targets)
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        todo.extend(str(v[0]) for v in prompt[n]["inputs"].values() if is_link(v))
    return seen


def topological(prompt: dict, nodes: set) -> list:
    order, done = [], set()

    def visit(n):
        if n in done:
            return
        done.add(n)
        for v in prompt[n]["inputs"].values():
            if is_link(v):
                visit(str(v[0]))
        order.append(n)

    for n in sorted(nodes, key=lambda k: (len(k), k)):
        visit(n)
    return order


class Runner:
    """Runs API prompts with a node-class mapping; keeps a cache between runs."""

    def __init__(self, node_classes: dict, on_event=None):
        self.node_classes = node_classes
        self.on_event = on_event or (lambda event, data: None)
        self.cache: dict[str, tuple] = {}

    def signature(self, prompt: dict, node_id: str, sigs: dict) -> str:
        node = prompt[node_id]
        cls = self.node_classes[node["class_type"]]
        parts = {"type": node["class_type"], "inputs": {}}
        for name, value in sorted(node["inputs"].items()):
            parts["inputs"][name] = ["link", sigs[str(value[0])], value[1]] if is_link(value) else value
        if hasattr(cls, "IS_CHANGED"):
            literals = {k: v for k, v in node["inputs"].items() if not is_link(v)}
            parts["changed"] = repr(cls.IS_CHANGED(**literals))
        if getattr(cls, "NOT_IDEMPOTENT", False):
            parts["run"] = time.time_ns()
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=repr).encode()).hexdigest()

    def run(self, prompt: dict, extra_pnginfo: dict | None = None) -> RunResult:
        problems = validate(prompt, self.node_classes)
        if problems:
            raise GraphInvalid(problems)
        targets = [n for n, node in prompt.items() if getattr(self.node_classes[node["class_type"]], "OUTPUT_NODE", False)]
        order = topological(prompt, ancestors(prompt, targets))
        result, sigs = RunResult(), {}
        self.on_event("execution_start", {"nodes": order})
        progress.clear_interrupt()
        for node_id in order:
            sigs[node_id] = self.signature(prompt, node_id, sigs)
            if sigs[node_id] in self.cache:
                result.outputs[node_id], ui = self.cache[sigs[node_id]]
                result.cached.append(node_id)
            else:
                self.on_event("executing", {"node": node_id})
                start = time.perf_counter()
                result.outputs[node_id], ui = self.execute_node(prompt, node_id, result.outputs, extra_pnginfo)
                result.timings[node_id] = time.perf_counter() - start
                result.executed.append(node_id)
                self.cache[sigs[node_id]] = (result.outputs[node_id], ui)
            if ui is not None:
                result.ui[node_id] = ui
                self.on_event("executed", {"node": node_id, "output": ui})
        if result.cached:
            self.on_event("execution_cached", {"nodes": result.cached})
        self.on_event("execution_success", {})
        return result

    def execute_node(self, prompt, node_id, outputs, extra_pnginfo):
        node = prompt[node_id]
        cls = self.node_classes[node["class_type"]]
        kwargs = {}
        for entries in input_decls(cls).values():
            for name, decl in entries.items():
                if name in node["inputs"]:
                    value = node["inputs"][name]
                    kwargs[name] = (outputs[str(value[0])][value[1]] if is_link(value)
                                    else convert_literal(decl[0], decl[1] if len(decl) > 1 else {}, value))
        hidden = cls.INPUT_TYPES().get("hidden", {})
        for name, what in hidden.items():
            kwargs[name] = {"PROMPT": prompt, "EXTRA_PNGINFO": extra_pnginfo, "UNIQUE_ID": node_id}.get(what)
        progress.check_interrupt()
        try:
            out = getattr(cls(), cls.FUNCTION)(**kwargs)
        except (KeyboardInterrupt, progress.Interrupted):
            raise
        except Exception as e:
            raise NodeFailed(node_id, node["class_type"], e) from e
        if isinstance(out, dict):
            return tuple(out.get("result", ())), out.get("ui")
        return tuple(out), None
