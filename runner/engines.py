"""Which engine runs a command's graphs: ComfyUI's own nodes and executor in-process when a ComfyUI is given
(--comfyui, $NOISEKIT_COMFYUI) or importable, else noisekit's runner with its stand-ins for ComfyUI's core nodes."""
from __future__ import annotations

from .comfy_runner import ComfyRunner
from .comfyui import find_comfyui
from .execute import Runner, default_node_classes


def make_runner(comfyui: str | None, device: str, models_dir: str | None = None, custom_nodes=(), on_event=None):
    path = find_comfyui(comfyui)
    if path is None:
        if models_dir or custom_nodes:
            raise ValueError("--models-dir and --custom-nodes are ComfyUI's folders: pass --comfyui PATH too")
        return Runner(default_node_classes(), on_event=on_event)
    return ComfyRunner(path, device, models_dir, custom_nodes, on_event=on_event)
