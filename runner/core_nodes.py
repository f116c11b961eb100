"""The node types ComfyUI itself provides, read from comfyui_core_nodes.txt beside this file: a graph that
uses one where ComfyUI is absent is told how to run it, rather than that its type is unknown."""
from __future__ import annotations

import os
from functools import lru_cache

CORE_NODES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "comfyui_core_nodes.txt")


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
