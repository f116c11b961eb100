"""Headless runner for saved ComfyUI graphs (both file formats), without ComfyUI."""
from __future__ import annotations

from .execute import GraphInvalid, NodeFailed, Runner, RunResult
from .formats import load_prompt, read_graph
from .validate import Problem, validate


def node_classes() -> dict:
    """noisekit's nodes plus the stand-ins for the core ComfyUI nodes graphs use around them."""
    from .. import NODE_CLASS_MAPPINGS
    from .standins import NODE_CLASS_MAPPINGS as STANDINS

    return {**STANDINS, **NODE_CLASS_MAPPINGS}


__all__ = ["Runner", "RunResult", "GraphInvalid", "NodeFailed", "Problem", "validate", "load_prompt", "read_graph",
           "node_classes"]
