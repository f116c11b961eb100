"""A real ComfyUI in-process: its node classes, comfy_extras, custom nodes and its own executor, no server.

The only runner module that imports ComfyUI (lazily, inside functions). ``ComfyRunner`` offers what
``execute.Runner`` offers (``node_classes``, ``run`` -> RunResult, GraphInvalid / NodeFailed /
RunInterrupted), so the CLI, the report and ``--json-progress`` are the same with and without ComfyUI:

- loading: ComfyUI's ``nodes`` with ``comfy_extras`` and the custom nodes in PATH/custom_nodes (and in
  ``custom_nodes`` folders given here) through its own loader; noisekit itself is taken from this process,
  never imported a second time from custom_nodes; ``--device cpu`` is ComfyUI's ``--cpu``;
- validation: ComfyUI's ``validate_prompt`` (its error types and node_errors), every problem listed;
- execution: ``execution.PromptExecutor`` with a stand-in for the server object, which turns ComfyUI's
  websocket events into noisekit's events, per-node timings and the run's ui outputs. One executor per
  runner keeps ComfyUI's cache, so a rerun recomputes only what changed, as in ComfyUI.

ComfyUI loads once per process (it keeps global state); a second load must ask for the same checkout
and device.
"""
from __future__ import annotations

import asyncio
import difflib
import importlib.util
import logging
import os
import sys
import time
import uuid
from functools import lru_cache

from .. import progress
from .formats import normalize_api

NOISEKIT_DIR = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
CORE_NODES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "comfyui_core_nodes.txt")
EVENTS = ("execution_start", "execution_cached", "executing", "progress", "executed", "execution_error",
          "execution_interrupted", "execution_success")  # noisekit's events; ComfyUI-only ones are not passed on
_loaded: dict = {}  # the one ComfyUI of this process: path, device, nodes module, server stand-in, log


class ComfyUnavailable(ValueError):
    """The ComfyUI asked for cannot be loaded, with why and what to do."""


@lru_cache(maxsize=1)
def core_node_names() -> frozenset:
    """Node types that ComfyUI 0.8.0 itself provides (nodes.py, comfy_extras, comfy_api_nodes)."""
    with open(CORE_NODES_FILE, encoding="utf-8") as f:
        return frozenset(line.strip() for line in f if line.strip() and not line.startswith("#"))


def core_node_hint(kind: str) -> str | None:
    """How to get a ComfyUI core node the runner does not have without ComfyUI."""
    if kind not in core_node_names():
        return None
    return (f"{kind} is a ComfyUI node: pass --comfyui PATH to a ComfyUI checkout "
            "(or set NOISEKIT_COMFYUI) to run it with ComfyUI's own nodes")


def find_comfyui(explicit: str | None = None) -> str | None:
    """The ComfyUI to load: ``explicit`` (--comfyui), else $NOISEKIT_COMFYUI, else the folder of a ComfyUI
    importable here (its top-level ``folder_paths`` and ``comfy``), else None."""
    if explicit or os.environ.get("NOISEKIT_COMFYUI"):
        return os.path.abspath(explicit or os.environ["NOISEKIT_COMFYUI"])
    spec = importlib.util.find_spec("folder_paths")
    if spec is not None and spec.origin and importlib.util.find_spec("comfy") is not None:
        return os.path.dirname(os.path.abspath(spec.origin))
    return None


class _Log(logging.Handler):
    """Keeps ComfyUI's log records (warnings and up) instead of printing them between noisekit's lines."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


class ServerStandIn:
    """What ComfyUI's executor and nodes use of PromptServer.instance, without a network: events go to
    ``sink(event, data)``; routes registered by custom nodes at import are collected and never served."""

    def __init__(self):
        self.client_id, self.last_node_id, self.last_prompt_id = None, None, None
        self.sockets_metadata, self.sink = {}, None
        try:
            from aiohttp import web

            self.routes = web.RouteTableDef()
        except ImportError:  # ComfyUI requires aiohttp; without it, packs adding routes fail as in ComfyUI
            self.routes = None

    def send_sync(self, event, data, sid=None):
        if self.sink is not None and isinstance(event, str):  # ints are binary previews: not reported
            self.sink(event, data)

    async def send(self, event, data, sid=None):
        self.send_sync(event, data, sid)

    def send_progress_text(self, text, node_id, sid=None):
        self.send_sync("progress_text", {"node_id": node_id, "text": text})

    def queue_updated(self):
        pass

    def add_on_prompt_handler(self, handler):
        pass


def _check_same(path: str, device: str, custom_nodes):
    folders = sorted(os.path.realpath(f) for f in custom_nodes)
    if _loaded["path"] != path or _loaded["device"] != device or (folders and folders != _loaded["custom_nodes"]):
        raise ComfyUnavailable(f"ComfyUI from {_loaded['path']} on {_loaded['device']} (custom nodes also from "
                               f"{_loaded['custom_nodes'] or 'nowhere else'}) is already loaded in this process; it "
                               f"cannot be loaded again from {path} on {device} with custom nodes from {folders}")


def _configure_args(path: str, device: str):
    """ComfyUI's command-line options, set before comfy.model_management reads them at import."""
    from comfy.cli_args import args

    args.cpu = device == "cpu"
    args.disable_all_custom_nodes = True  # then whitelist every pack except noisekit, which is loaded once
    args.whitelist_custom_nodes = []
    return args


def _whitelist(args, folders):
    """Every entry of the custom-node folders except the one that is this noisekit checkout."""
    for folder in folders:
        for entry in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            if os.path.realpath(os.path.join(folder, entry)) != NOISEKIT_DIR:
                args.whitelist_custom_nodes.append(entry)


def _set_io_folders(paths: dict):
    """ComfyUI's input, output and temp folders: the runner's (--input-dir, --output-dir)."""
    import folder_paths

    folder_paths.set_input_directory(paths["input"])
    folder_paths.set_output_directory(paths["output"])
    folder_paths.set_temp_directory(paths["temp"])


def _set_model_folders(models_dir: str | None):
    """--models-dir: a models folder (checkpoints/, vae/, ...) searched first, or an extra_model_paths.yaml."""
    import folder_paths
    from utils.extra_config import load_extra_path_config

    if models_dir and models_dir.lower().endswith((".yaml", ".yml")):
        load_extra_path_config(models_dir)
    elif models_dir:
        if not os.path.isdir(models_dir):
            raise ComfyUnavailable(f"--models-dir {models_dir}: no such folder (give ComfyUI's models folder, with "
                                   "checkpoints/, vae/, loras/ ..., or an extra_model_paths.yaml)")
        for name in list(folder_paths.folder_names_and_paths):
            if name != "custom_nodes":
                folder_paths.add_model_folder_path(name, os.path.join(models_dir, name), is_default=True)


def _progress_hook(server):
    """ComfyUI's per-step hook (main.py installs one like it): a progress event, and a stop if asked for,
    by noisekit's Ctrl-C handling or ComfyUI's own flag."""
    import comfy.model_management
    from comfy_execution.utils import get_executing_context

    def hook(value, total, preview_image=None, prompt_id=None, node_id=None):
        context = get_executing_context()
        if progress.interrupt_requested():
            comfy.model_management.interrupt_current_processing(True)
        comfy.model_management.throw_exception_if_processing_interrupted()
        server.send_sync("progress", {"value": value, "max": total,
                                      "prompt_id": prompt_id or (context and context.prompt_id) or server.last_prompt_id,
                                      "node": node_id or (context and context.node_id) or server.last_node_id})
    return hook


def load_comfyui(path: str, device: str = "cpu", custom_nodes=()) -> dict:
    """Import ComfyUI from ``path`` once per process and register every node type (ComfyUI's, the packs in
    PATH/custom_nodes and in ``custom_nodes`` folders, noisekit's); returns its state."""
    path = os.path.realpath(path)
    if _loaded:
        _check_same(path, device, custom_nodes)
        return _loaded
    if not (os.path.isfile(os.path.join(path, "main.py")) and os.path.isdir(os.path.join(path, "comfy"))):
        raise ComfyUnavailable(f"--comfyui {path}: not a ComfyUI checkout (no main.py and comfy/ there)")
    if device not in ("cpu", "mps") and not device.startswith("cuda"):
        raise ComfyUnavailable(f"--device {device}: with ComfyUI, use cpu, cuda, cuda:N or mps")
    log = _Log()
    logging.getLogger().addHandler(log)
    if path not in sys.path:
        sys.path.insert(0, path)
    try:
        args = _configure_args(path, device)
        import folder_paths
        from utils.extra_config import load_extra_path_config

        if os.path.isfile(os.path.join(path, "extra_model_paths.yaml")):  # as ComfyUI's main.py does
            load_extra_path_config(os.path.join(path, "extra_model_paths.yaml"))
        for folder in custom_nodes:
            folder_paths.add_model_folder_path("custom_nodes", os.path.abspath(folder))
        _whitelist(args, folder_paths.get_folder_paths("custom_nodes"))
        if device.startswith("cuda:"):
            import torch

            torch.cuda.set_device(int(device.split(":")[1]))
        server = ServerStandIn()
        import server as comfy_server  # custom packs reach PromptServer.instance at import

        comfy_server.PromptServer.instance = server
        import comfy.utils
        import execution  # noqa: F401  (imports the executor's dependencies before the nodes)
        import nodes

        comfy.utils.set_progress_bar_global_hook(_progress_hook(server))
        failed = asyncio.run(nodes.init_extra_nodes(init_custom_nodes=True, init_api_nodes=False))
        from ..nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

        for name, cls in NODE_CLASS_MAPPINGS.items():  # as ComfyUI's loader would, names already taken are kept
            if name not in nodes.NODE_CLASS_MAPPINGS:
                nodes.NODE_CLASS_MAPPINGS[name] = cls
                nodes.NODE_DISPLAY_NAME_MAPPINGS.setdefault(name, NODE_DISPLAY_NAME_MAPPINGS.get(name, name))
                cls.RELATIVE_PYTHON_MODULE = "custom_nodes.noisekit"
    except ComfyUnavailable:
        raise
    except Exception as e:
        raise ComfyUnavailable(f"--comfyui {path}: ComfyUI did not load ({type(e).__name__}: {e}); run it once with "
                               "its own python main.py to see what it is missing") from e
    import comfyui_version

    packs = [os.path.realpath(p) for p in folder_paths.get_folder_paths("custom_nodes")]
    failed_packs = [r.getMessage().split(" module for custom nodes")[0].replace("Cannot import ", "")
                    for r in log.records if r.getMessage().startswith("Cannot import ")]
    failed_packs = [p for p in failed_packs if any(os.path.realpath(p).startswith(d + os.sep) for d in packs)]
    _loaded.update(path=path, device=device, custom_nodes=sorted(os.path.realpath(f) for f in custom_nodes), nodes=nodes, server=server, log=log,
                   info={"path": path, "version": comfyui_version.__version__,
                         "node_types": len(nodes.NODE_CLASS_MAPPINGS),
                         "import_failed": sorted(failed) + failed_packs})
    return _loaded


def _problems(node_errors: dict, error: dict | None, prompt: dict) -> list:
    """ComfyUI's validation result as noisekit's problems: one per error, with node, type and input."""
    from .validate import Problem

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


class ComfyRunner:
    """Runs API prompts with ComfyUI's own executor, in this process."""

    def __init__(self, path: str, device: str = "cpu", models_dir: str | None = None, custom_nodes=(),
                 on_event=None):
        from .standins import PATHS

        state = load_comfyui(path, device, custom_nodes)
        _set_io_folders(PATHS)
        _set_model_folders(models_dir)
        self.nodes, self.server, self.info = state["nodes"], state["server"], state["info"]
        self.node_classes = self.nodes.NODE_CLASS_MAPPINGS
        self.on_event = on_event
        self.executor = self._executor()

    def _executor(self):
        import execution

        class Executor(execution.PromptExecutor):
            """Keeps the exception of a failed node (ComfyUI only sends its text)."""

            def handle_execution_error(self, prompt_id, prompt, current_outputs, executed, error, ex):
                self.failure = (error["node_id"], prompt[error["node_id"]]["class_type"], ex, list(executed))
                super().handle_execution_error(prompt_id, prompt, current_outputs, executed, error, ex)

        return Executor(self.server, cache_type=execution.CacheType.CLASSIC, cache_args={"lru": 0, "ram": 0})

    def emit(self, event: str, data: dict):
        if self.on_event is not None:
            self.on_event(event, data)

    def validate(self, prompt: dict) -> tuple[list, dict, list[str]]:
        """(problems, ComfyUI's node_errors, the output nodes that passed), as its /prompt would judge them.
        ComfyUI stops at the first unknown node type; here every one is listed, and the output nodes that do
        not depend on one are validated too, so that every problem is reported at once."""
        import execution

        from .validate import Problem, ancestors, output_nodes

        unknown = [Problem(n, node.get("class_type"), None, "invalid_prompt", self._unknown(node.get("class_type")))
                   for n, node in prompt.items() if node.get("class_type") not in self.node_classes]
        known = {n: node for n, node in prompt.items() if node.get("class_type") in self.node_classes}
        targets = [o for o in output_nodes(known, self.node_classes) if ancestors(prompt, [o]) <= set(known)]
        if unknown and not targets:
            return unknown, {}, []
        valid, error, outputs, node_errors = asyncio.run(
            execution.validate_prompt(str(uuid.uuid4()), known, targets if unknown else None))
        problems = [] if valid and not node_errors else _problems(node_errors, error, prompt)
        return unknown + problems, node_errors, outputs

    def _unknown(self, kind) -> str:
        close = difflib.get_close_matches(str(kind), list(self.node_classes), n=3, cutoff=0.6)
        return f"Cannot execute because node {kind} does not exist; " + (
            f"did you mean {', '.join(close)}?" if close else "is the custom node pack that provides it in "
                                                              "custom_nodes/ and did it import?")

    def run(self, prompt: dict, extra_pnginfo: dict | None = None, prompt_id: str | None = None):
        """Validate and execute like execute.Runner.run: a RunResult, or GraphInvalid / NodeFailed /
        RunInterrupted carrying what ran before."""
        from .execute import GraphInvalid, NodeFailed, RunInterrupted, RunResult
        from .validate import declared_inputs

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
            raise self._attach(NodeFailed(node_id, kind, error, names), result)
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
            cls = self.node_classes.get(prompt[node_id]["class_type"])
            is_list = getattr(cls, "OUTPUT_IS_LIST", None) or (False,) * len(entry.outputs)
            result.outputs[node_id] = tuple(v[0] if len(v) == 1 and not is_list[k] else v
                                            for k, v in enumerate(entry.outputs))
