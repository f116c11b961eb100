"""ComfyRunner: API prompts run by a real ComfyUI's own validation and executor, in this process (comfyui.py
loads it). It offers what execute.Runner offers (outcome.Engine), so the CLI, the report and
``--json-progress`` are the same with and without ComfyUI:

- validation: ComfyUI's ``validate_prompt`` (its error types and node_errors), every problem listed;
- execution: ``execution.PromptExecutor`` with comfyui.py's stand-in for the server object, whose websocket
  events become noisekit's events, per-node timings and the run's ui outputs. One executor per runner keeps
  ComfyUI's cache, so a rerun recomputes only what changed, as in ComfyUI.
"""
from __future__ import annotations

import asyncio
import difflib
import os
import time
import uuid

from .. import progress
from .comfyui import folders_looked_in, load_comfyui, model_folders, set_io_folders, set_model_folders
from .formats import normalize_api
from .outcome import Engine, GraphInvalid, NodeFailed, Problem, RunInterrupted, RunResult
from .standins import PATHS
from .validate import ancestors, declared_inputs, output_nodes

EVENTS = ("execution_start", "execution_cached", "executing", "progress", "executed", "execution_error",
          "execution_interrupted", "execution_success")  # noisekit's events; ComfyUI-only ones are not passed on
UNREADABLE = ("SafetensorError", "UnpicklingError", "EOFError")  # what loading a zero-byte or cut-short model raises


def _problems(node_errors: dict, error: dict | None, prompt: dict) -> list:
    """ComfyUI's validation result as noisekit's problems: one per error, with node, type and input."""
    out = []
    for node_id, entry in node_errors.items():
        for err in entry.get("errors", []):
            details = err.get("details") or ""
            out.append(Problem(str(node_id), entry.get("class_type") or prompt.get(node_id, {}).get("class_type"),
                               (err.get("extra_info") or {}).get("input_name"), err.get("type", "error"),
                               err.get("message", "") + (f": {details}" if details else "")))
    if not out and error:
        out.append(Problem(None, None, None, error.get("type", "error"),
                           error.get("message", "") + (f": {error['details']}" if error.get("details") else "")))
    return out


class ComfyRunner(Engine):
    """Runs API prompts with ComfyUI's own executor, in this process."""

    def __init__(self, path: str, device: str = "cpu", models_dir: str | None = None, custom_nodes=(),
                 on_event=None):
        state = load_comfyui(path, device, custom_nodes)
        set_io_folders(PATHS)
        set_model_folders(models_dir)
        self.nodes, self.server, self.info = state["nodes"], state["server"], state["info"]
        self._models = {}  # node type -> model_inputs
        super().__init__(self.nodes.NODE_CLASS_MAPPINGS, on_event)
        self.executor = self._executor()

    def _executor(self):
        import execution

        class Executor(execution.PromptExecutor):
            """Keeps the exception of a failed node (ComfyUI only sends its text)."""

            def handle_execution_error(self, prompt_id, prompt, current_outputs, executed, error, ex):
                self.failure = (error["node_id"], prompt[error["node_id"]]["class_type"], ex, list(executed))
                super().handle_execution_error(prompt_id, prompt, current_outputs, executed, error, ex)

        return Executor(self.server, cache_type=execution.CacheType.CLASSIC, cache_args={"lru": 0, "ram": 0})

    def forget(self):
        """A fresh executor, so ComfyUI's cache is empty: the next run computes (and saves) every node."""
        self.executor = self._executor()

    def validate(self, prompt: dict) -> tuple[list, dict, list[str]]:
        """(problems, ComfyUI's node_errors, the output nodes that passed), as its /prompt would judge them.
        ComfyUI stops at the first unknown node type; here every one is listed, and the output nodes that do
        not depend on one are validated too, so that every problem is reported at once."""
        import execution

        unknown = [Problem(n, node.get("class_type"), None, "invalid_prompt", self._unknown(node.get("class_type")))
                   for n, node in prompt.items() if node.get("class_type") not in self.node_classes]
        known = {n: node for n, node in prompt.items() if node.get("class_type") in self.node_classes}
        targets = [o for o in output_nodes(known, self.node_classes) if ancestors(prompt, [o]) <= set(known)]
        if unknown and not targets:
            return unknown, {}, []
        valid, error, outputs, node_errors = asyncio.run(
            execution.validate_prompt(str(uuid.uuid4()), known, targets if unknown else None))
        problems = [] if valid and not node_errors else _problems(node_errors, error, prompt)
        return unknown + [self._missing_model(p, prompt) for p in problems], node_errors, outputs

    def model_inputs(self, kind: str) -> dict:
        """input name -> the model folders its files come from, for a node type (asked once per type)."""
        if kind not in self._models:
            self._models[kind] = model_folders(self.node_classes[kind]) if kind in self.node_classes else {}
        return self._models[kind]

    def _missing_model(self, problem: Problem, prompt: dict) -> Problem:
        """ComfyUI's "value not in list" for a model file its folder lacks, as a missing model file: which
        file, and the directories it was looked for in (not the list of files that are there)."""
        folders = self.model_inputs(problem.node_type).get(problem.input) if problem.type == "value_not_in_list" else None
        if not folders:
            return problem
        value = prompt[problem.node_id]["inputs"].get(problem.input)
        return Problem(problem.node_id, problem.node_type, problem.input, "model_file_missing",
                       f"model file {value!r} is not in {' or '.join(folders)}; looked in "
                       f"{', '.join(folders_looked_in(folders)) or 'no folder'}: put it there, or pass --models-dir "
                       "DIR (a models folder with " + "/, ".join(folders) + "/ in it)")

    def _unreadable_model(self, node_id: str, kind: str, error: BaseException, prompt: dict):
        """A loader that failed on a model file that is there but cannot be read (a zero-byte placeholder, a
        cut-short download): the file, its size and the input, as a refused value; else None."""
        files = {name: (folder, prompt[node_id]["inputs"].get(name)) for name, (folder, *_) in
                 self.model_inputs(kind).items() if isinstance(prompt[node_id]["inputs"].get(name), str)}
        if not files or not (type(error).__name__ in UNREADABLE or "PytorchStreamReader" in str(error)):
            return None
        import folder_paths

        paths = {name: folder_paths.get_full_path(folder, file) for name, (folder, file) in files.items()}
        name = min(paths, key=lambda n: os.path.getsize(paths[n]) if paths[n] else float("inf"))
        size = os.path.getsize(paths[name]) if paths[name] else 0
        return ValueError(f"input '{name}': the model file {paths[name]} ({size} bytes) cannot be read "
                          f"({type(error).__name__}: {error}); a placeholder or cut-short download? fetch it again")

    def _unknown(self, kind) -> str:
        close = difflib.get_close_matches(str(kind), list(self.node_classes), n=3, cutoff=0.6)
        return f"Cannot execute because node {kind} does not exist; " + (
            f"did you mean {', '.join(close)}?" if close else "is the custom node pack that provides it in "
                                                              "custom_nodes/ and did it import?")

    def run(self, prompt: dict, extra_pnginfo: dict | None = None, prompt_id: str | None = None):
        """Validate and execute like execute.Runner.run: a RunResult, or GraphInvalid / NodeFailed /
        RunInterrupted carrying what ran before."""
        prompt = normalize_api(prompt)
        problems, _, outputs = self.validate(prompt)
        if problems:
            raise GraphInvalid(problems)
        result = RunResult(prompt_id or str(uuid.uuid4()))
        clock = {"node": None, "start": 0.0}

        def stop_clock():
            if clock["node"] is not None:
                result.timings[clock["node"]] = time.perf_counter() - clock["start"]
                clock["node"] = None

        def on_event(event, data):
            if event == "executing":
                stop_clock()
                if data.get("node") is not None:
                    clock.update(node=data["node"], start=time.perf_counter())
                    result.executed.append(data["node"])
                    if progress.interrupt_requested():  # Ctrl-C: ComfyUI checks its flag as each node starts
                        self.nodes.interrupt_processing(True)
            elif event == "execution_cached":
                result.cached = [n for n in data.get("nodes", []) if n in prompt]
            if event in ("execution_success", "execution_error", "execution_interrupted"):
                stop_clock()
            if event in EVENTS:
                self.emit(event, data)

        self.server.sink, self.server.last_prompt_id = on_event, result.prompt_id
        self.executor.failure = None
        progress.clear_interrupt()
        extra = {"client_id": "noisekit", **({"extra_pnginfo": extra_pnginfo} if extra_pnginfo else {})}
        try:
            self.executor.execute(prompt, result.prompt_id, extra, outputs)
        except KeyboardInterrupt:  # a second Ctrl-C, in the middle of a node
            node_id = clock["node"]
            stop_clock()
            self._collect(prompt, result)
            kind = prompt.get(node_id, {}).get("class_type")
            raise self._attach(RunInterrupted(node_id, kind, list(result.executed)), result) from None
        finally:
            self.server.sink = None
            progress.clear_interrupt()
        self._collect(prompt, result)
        if self.executor.failure is not None:
            node_id, kind, error, executed = self.executor.failure
            import comfy.model_management

            result.executed = [n for n in result.executed if n in executed]  # as Runner: the failed one is not
            result.timings = {n: t for n, t in result.timings.items() if n in executed}
            if isinstance(error, comfy.model_management.InterruptProcessingException):
                raise self._attach(RunInterrupted(node_id, kind, result.executed), result)
            names = list(declared_inputs(self.node_classes[kind].INPUT_TYPES())) if kind in self.node_classes else []
            unreadable = self._unreadable_model(node_id, kind, error, prompt)
            failure = NodeFailed(node_id, kind, unreadable or error, names)
            raise self._attach(failure, result)
        self.emit("executing", {"node": None, "prompt_id": result.prompt_id})
        return result

    @staticmethod
    def _attach(error, result):
        error.result = result
        return error

    def _collect(self, prompt: dict, result):
        """Each node's outputs (from ComfyUI's cache) and the ui of the output nodes."""
        result.ui = dict((getattr(self.executor, "history_result", None) or {}).get("outputs") or {})
        result.cached = [n for n in result.cached if n not in result.executed]
        for node_id in prompt:
            entry = self.executor.caches.outputs.get(node_id)
            if entry is None or entry.outputs is None:
                continue
            result.outputs[node_id] = self.outputs(prompt[node_id]["class_type"], entry.outputs)
