"""A real ComfyUI loaded into this process: its node classes, comfy_extras and custom nodes, no server.

ComfyUI's ``nodes`` with ``comfy_extras`` and the custom nodes in PATH/custom_nodes (and in ``custom_nodes``
folders given here) are loaded through its own loader; noisekit itself is taken from this process, never
imported a second time from custom_nodes; ``--device cpu`` is ComfyUI's ``--cpu``. A stand-in for the server
object takes the websocket events ComfyUI's executor and nodes send (comfy_runner.py turns them into
noisekit's). ComfyUI is imported lazily, inside functions.

ComfyUI loads once per process (it keeps global state); a second load must ask for the same checkout
and device.
"""
from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import sys

from .. import progress
from ..files import temp_folder
from .standins import new_temp_dir
from .validate import declared_inputs

NOISEKIT_DIR = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
_loaded: dict = {}  # the one ComfyUI of this process: path, device, nodes module, server stand-in, log


class ComfyUnavailable(ValueError):
    """The ComfyUI asked for cannot be loaded, with why and what to do."""


def find_comfyui(explicit: str | None = None) -> str | None:
    """The ComfyUI to load: ``explicit`` (--comfyui), else $NOISEKIT_COMFYUI, else the folder of a ComfyUI
    importable here (its top-level ``folder_paths`` and ``comfy``), else None."""
    if explicit or os.environ.get("NOISEKIT_COMFYUI"):
        return os.path.abspath(explicit or os.environ["NOISEKIT_COMFYUI"])
    spec = importlib.util.find_spec("folder_paths")
    if spec is not None and spec.origin and importlib.util.find_spec("comfy") is not None:
        return os.path.dirname(os.path.abspath(spec.origin))
    return None


class _LogKeeper(logging.Handler):
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


def _check_same_as_loaded(path: str, device: str, custom_nodes):
    folders = sorted(os.path.realpath(f) for f in custom_nodes)
    if _loaded["path"] != path or _loaded["device"] != device or (folders and folders != _loaded["custom_nodes"]):
        raise ComfyUnavailable(f"ComfyUI from {_loaded['path']} on {_loaded['device']} (custom nodes also from "
                               f"{_loaded['custom_nodes'] or 'nowhere else'}) is already loaded in this process; it "
                               f"cannot be loaded again from {path} on {device} with custom nodes from {folders}")


def _configure_args(device: str):
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


def set_io_folders(paths: dict):
    """ComfyUI's input, output and temp folders: the runner's (--input-dir, --output-dir, its private temp
    folder for previews). Where the input folder does not exist (the default ./input of a command run
    elsewhere), ComfyUI gets an empty scratch one: its loaders list their choices at validation and would fail
    on a missing folder, whatever the graph."""
    import folder_paths

    folder_paths.set_input_directory(paths["input"] if os.path.isdir(paths["input"]) else temp_folder("noisekit-input-"))
    folder_paths.set_output_directory(paths["output"])
    folder_paths.set_temp_directory(paths["temp"] or new_temp_dir())


def set_model_folders(models_dir: str | None):
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
                folder_paths.add_model_folder_path(name, os.path.join(os.path.abspath(models_dir), name), is_default=True)


MARK = "\0noisekit-folder:"  # stands in for a model folder's files while INPUT_TYPES is asked


def model_folders(cls) -> dict:
    """input name -> the model folders (checkpoints, vae, loras ...) whose files are its choices. INPUT_TYPES is
    asked once with each folder's file list replaced by a marker naming it, so whatever a node builds its
    choices from, the markers in them tell which folders it read."""
    import folder_paths

    real = folder_paths.get_filename_list
    folder_paths.get_filename_list = lambda folder: [MARK + folder]
    try:
        spec = cls.INPUT_TYPES()
    except Exception:  # a node whose INPUT_TYPES needs real files: nothing known about it
        return {}
    finally:
        folder_paths.get_filename_list = real
    return {name: folders for name, (kind, _, _) in declared_inputs(spec).items()
            if (folders := [c[len(MARK):] for c in kind if isinstance(c, str) and c.startswith(MARK)]
                if isinstance(kind, list) else [])}


def folders_looked_in(folders) -> list[str]:
    """The directories ComfyUI searches for the files of these model folders (--models-dir's first)."""
    import folder_paths

    return [d for folder in folders for d in folder_paths.get_folder_paths(folder)]


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
        _check_same_as_loaded(path, device, custom_nodes)
        return _loaded
    if not (os.path.isfile(os.path.join(path, "main.py")) and os.path.isdir(os.path.join(path, "comfy"))):
        raise ComfyUnavailable(f"--comfyui {path}: not a ComfyUI checkout (no main.py and comfy/ there)")
    if device not in ("cpu", "mps") and not device.startswith("cuda"):
        raise ComfyUnavailable(f"--device {device}: with ComfyUI, use cpu, cuda, cuda:N or mps")
    log = _LogKeeper()
    logging.getLogger().addHandler(log)
    if path in sys.path:  # first, ahead of a comfy/ folder put there before (its utils.py hides utils/)
        sys.path.remove(path)
    sys.path.insert(0, path)
    try:
        args = _configure_args(device)
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
    _loaded.update(path=path, device=device, custom_nodes=sorted(os.path.realpath(f) for f in custom_nodes),
                   nodes=nodes, server=server, log=log,
                   info={"path": path, "version": comfyui_version.__version__,
                         "node_types": len(nodes.NODE_CLASS_MAPPINGS),
                         "import_failed": sorted(failed) + failed_packs})
    return _loaded
