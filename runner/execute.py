"""Execution like ComfyUI's: validate everything first, then run only the nodes that
feed an output node, in dependency order, each once.

Values travel as ComfyUI's lists: every output slot holds a list of items, a node
is called once per item (the last item of a shorter input repeats) unless it sets
INPUT_IS_LIST, and OUTPUT_IS_LIST slots are flattened. Outputs are cached across
runs under a signature of the node's class, converted literal inputs, IS_CHANGED
value and, recursively, the signatures of the nodes feeding it, so a rerun after
one change re-executes only what is downstream of it.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import time
import traceback
import uuid

import torch

from .. import progress
from .formats import is_link, link_sources, normalize_api
from .outcome import Engine, GraphInvalid, NodeFailed, RunInterrupted, RunResult
from .validate import check_graph, declared_inputs, output_nodes

_fresh = itertools.count()  # makes a signature unique when IS_CHANGED says "always run" (NaN)


def default_node_classes() -> dict:
    """noisekit's nodes plus the stand-ins for ComfyUI's core nodes; core names win, as in ComfyUI."""
    from ..nodes import NODE_CLASS_MAPPINGS
    from .standins import NODE_CLASS_MAPPINGS as STANDINS

    return {**NODE_CLASS_MAPPINGS, **STANDINS}


def node_order(prompt: dict, targets) -> list[str]:
    """The nodes that feed ``targets``, each after everything it reads (validation ruled out cycles);
    an iterative post-order walk, so a chain of any length is fine."""
    order, done = [], set()
    for root in sorted(targets, key=lambda k: (len(k), k)):
        if root in done:
            continue
        done.add(root)
        todo = [(root, iter(link_sources(prompt[root])))]
        while todo:
            node, sources = todo[-1]
            for m in sources:
                if m not in done:
                    done.add(m)
                    todo.append((m, iter(link_sources(prompt[m]))))
                    break
            else:
                todo.pop()
                order.append(node)
    return order


def call_over_lists(cls, data: dict) -> list:
    """One call per list item (shorter lists repeat their last item), or one call with the lists."""
    fn = getattr(cls(), cls.FUNCTION)
    if getattr(cls, "INPUT_IS_LIST", False):
        return [fn(**data)]
    count = max((len(v) for v in data.values()), default=1)
    results = []
    for i in range(count):
        progress.check_interrupt()
        results.append(fn(**{k: v[min(i, len(v) - 1)] for k, v in data.items()}))
    return results


def merge_results(cls, results) -> tuple[list, dict | None]:
    """Per output slot the list of items the calls produced, and the ui dicts merged."""
    width, values, uis = len(cls.RETURN_TYPES), [], []
    for r in results:
        if isinstance(r, dict):
            if "expand" in r:
                raise TypeError("the node returned a subgraph expansion, which the runner does not support")
            if r.get("ui") is not None:
                uis.append(r["ui"])
            r = r.get("result", ())
        if not isinstance(r, (tuple, list)) or len(r) not in (0, width):
            raise TypeError(f"{cls.__name__}.{cls.FUNCTION} returned {type(r).__name__} of {len(r) if isinstance(r, (tuple, list)) else 1} "
                            f"value(s); RETURN_TYPES declares {width}: return a tuple or {{'result': ..., 'ui': ...}}")
        values.append(tuple(r))
    is_list = getattr(cls, "OUTPUT_IS_LIST", (False,) * width)
    lists = [[x for v in values if v for x in (v[k] if is_list[k] else [v[k]])] for k in range(width)]
    if not uis:
        return lists, None
    return lists, uis[0] if len(uis) == 1 else {k: [x for u in uis for x in u.get(k, [])] for k in uis[0]}


PICTURE_TYPES = ("IMAGE", "LATENT", "MASK")


def check_finite(cls, lists):
    """Refuse NaN or inf in an IMAGE, LATENT or MASK output: saved, it would be a black picture."""
    for k, kind in enumerate(cls.RETURN_TYPES):
        if kind not in PICTURE_TYPES:
            continue
        for item in lists[k]:
            tensor = item.get("samples") if isinstance(item, dict) else item
            if isinstance(tensor, torch.Tensor) and tensor.is_floating_point() and not torch.isfinite(tensor).all():
                name = (getattr(cls, "RETURN_NAMES", None) or cls.RETURN_TYPES)[k]
                raise FloatingPointError(f"output {k} ({name}, {kind}) contains NaN or inf: a corrupt model or "
                                         "weights, or numbers out of range upstream; it would be saved as a "
                                         "black image")


def is_nan(value) -> bool:
    return isinstance(value, float) and value != value


class Runner(Engine):
    """Runs API prompts against a node-class mapping and keeps outputs cached between runs.

    ``on_event(type, data)`` receives ComfyUI-shaped websocket events; without it
    per-step progress goes to tqdm."""

    def __init__(self, node_class_mappings: dict | None = None, on_event=None):
        super().__init__(default_node_classes() if node_class_mappings is None else node_class_mappings, on_event)
        self.cache: dict[str, tuple] = {}  # signature -> (output lists, ui)

    def forget(self):
        """Drop the cached outputs: the next run computes every node (a test case apart from the one before)."""
        self.cache = {}

    def run(self, prompt: dict, extra_pnginfo: dict | None = None, prompt_id: str | None = None) -> RunResult:
        prompt = normalize_api(prompt)
        problems, literals = check_graph(prompt, self.node_classes)
        if problems:
            raise GraphInvalid(problems)
        result = RunResult(prompt_id or str(uuid.uuid4()))
        order = node_order(prompt, output_nodes(prompt, self.node_classes))
        context = {"prompt": prompt, "extra_pnginfo": extra_pnginfo, "literals": literals}
        self.emit("execution_start", {"prompt_id": result.prompt_id, "timestamp": _ms()})
        progress.clear_interrupt()
        current = {"node": None}
        old_reporter = progress.set_reporter(self._progress_reporter(result.prompt_id, current)) \
            if self.on_event else None
        try:
            self._execute(order, context, result, current)
        except (NodeFailed, RunInterrupted) as e:
            e.result = result  # what ran before the failure, for the report
            raise
        finally:
            progress.clear_interrupt()  # a stop request ends with its run
            if self.on_event:
                progress.set_reporter(old_reporter)
        self.emit("execution_success", {"prompt_id": result.prompt_id, "timestamp": _ms()})
        self.emit("executing", {"node": None, "prompt_id": result.prompt_id})
        return result

    def _progress_reporter(self, prompt_id, current):
        return lambda info: self.emit("progress", {"value": info["value"], "max": info["max"],
                                                   "prompt_id": prompt_id, "node": current["node"]})

    def _execute(self, order, context, result, current):
        prompt, sigs, lists = context["prompt"], {}, {}
        for node_id in order:
            sigs[node_id] = self.signature(node_id, context, sigs)
        result.cached = [n for n in order if sigs[n] in self.cache]
        self.emit("execution_cached", {"nodes": result.cached, "prompt_id": result.prompt_id})
        for node_id in order:
            current["node"] = node_id
            kind = prompt[node_id]["class_type"]
            try:
                progress.check_interrupt()
                if sigs[node_id] in self.cache:
                    lists[node_id], ui = self.cache[sigs[node_id]]
                else:
                    self.emit("executing", {"node": node_id, "display_node": node_id, "prompt_id": result.prompt_id})
                    start = time.perf_counter()
                    lists[node_id], ui = self.execute_node(node_id, context, lists)
                    result.timings[node_id] = time.perf_counter() - start
                    result.executed.append(node_id)
                    self.cache[sigs[node_id]] = (lists[node_id], ui)
            except (KeyboardInterrupt, progress.Interrupted):
                self.emit("execution_interrupted", {"prompt_id": result.prompt_id, "node_id": node_id,
                                                    "node_type": kind, "executed": list(result.executed)})
                raise RunInterrupted(node_id, kind, list(result.executed)) from None
            except NodeFailed as e:
                self.emit("execution_error", {
                    "prompt_id": result.prompt_id, "node_id": node_id, "node_type": kind,
                    "executed": list(result.executed), "exception_message": str(e.error),
                    "exception_type": type(e.error).__name__, "input": e.input,
                    "traceback": traceback.format_tb(e.error.__traceback__),
                    "current_inputs": {}, "current_outputs": list(lists)})
                raise
            result.outputs[node_id] = self.outputs(kind, lists[node_id])
            if ui is not None:
                result.ui[node_id] = ui
                self.emit("executed", {"node": node_id, "display_node": node_id, "output": ui,
                                       "prompt_id": result.prompt_id})
        if progress.interrupt_requested():  # Ctrl-C during the last node: the run did not finish as asked
            self.emit("execution_interrupted", {"prompt_id": result.prompt_id, "node_id": None, "node_type": None,
                                                "executed": list(result.executed)})
            raise RunInterrupted(None, None, list(result.executed))
        used = set(sigs.values())  # keep only this prompt's entries, as ComfyUI's cache does
        self.cache = {k: v for k, v in self.cache.items() if k in used}

    def hidden_inputs(self, node_id, spec: dict, context) -> dict:
        values = {"PROMPT": context["prompt"], "EXTRA_PNGINFO": context["extra_pnginfo"], "UNIQUE_ID": node_id}
        return {name: values.get(what) for name, what in (spec.get("hidden") or {}).items()}

    def signature(self, node_id, context, sigs) -> str:
        """Hash of what determines the node's outputs (ComfyUI's input signature)."""
        node = context["prompt"][node_id]
        cls = self.node_classes[node["class_type"]]
        spec = cls.INPUT_TYPES()
        declared, literals = declared_inputs(spec), context["literals"][node_id]
        inputs = {name: ["link", sigs[v[0]], v[1]] if is_link(v) else literals.get(name, v)
                  for name, v in sorted(node["inputs"].items()) if name in declared}
        parts = [node["class_type"], inputs]
        if hasattr(cls, "IS_CHANGED"):
            args = {name: (None if is_link(v) else literals.get(name, v))
                    for name, v in node["inputs"].items() if name in declared}
            try:
                changed = cls.IS_CHANGED(**args, **self.hidden_inputs(node_id, spec, context))
            except Exception:  # ComfyUI treats a failing IS_CHANGED as "changed"
                changed = float("nan")
            parts.append(["fresh", next(_fresh)] if is_nan(changed) else repr(changed))
        if getattr(cls, "NOT_IDEMPOTENT", False) or "UNIQUE_ID" in (spec.get("hidden") or {}).values():
            parts.append(node_id)
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=repr).encode()).hexdigest()

    def execute_node(self, node_id, context, lists) -> tuple[list, dict | None]:
        node = context["prompt"][node_id]
        cls = self.node_classes[node["class_type"]]
        spec = cls.INPUT_TYPES()
        declared, literals = declared_inputs(spec), context["literals"][node_id]
        data = {}
        for name, value in node["inputs"].items():
            if name not in declared:
                continue  # ComfyUI passes only declared inputs
            if is_link(value):
                data[name] = lists[value[0]][value[1]]
                if not data[name]:
                    raise NodeFailed(node_id, node["class_type"], ValueError(
                        f"input '{name}': node {value[0]} produced no value for output {value[1]}"), [name])
            else:
                data[name] = [literals[name]]
        data.update({k: [v] for k, v in self.hidden_inputs(node_id, spec, context).items()})
        try:
            with torch.inference_mode():  # as ComfyUI runs nodes
                lists, ui = merge_results(cls, call_over_lists(cls, data))
            check_finite(cls, lists)
            return lists, ui
        except (KeyboardInterrupt, progress.Interrupted):
            raise
        except Exception as e:
            raise NodeFailed(node_id, node["class_type"], e, list(declared)) from e


def _ms() -> int:
    return int(time.time() * 1000)
