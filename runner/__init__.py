"""Headless runner for saved ComfyUI graphs (both file formats), without ComfyUI.

``Runner().run(prompt)`` validates and executes an API prompt; ``load_prompt`` turns
either file format into one; ``noisekit run`` (runner/cli.py) wraps it all.
"""
from __future__ import annotations

from .execute import GraphInvalid, NodeFailed, Runner, RunInterrupted, RunResult, default_node_classes
from .formats import GraphFormatError, load_prompt, read_graph
from .validate import Problem, check_graph, validate

__all__ = ["Runner", "RunResult", "GraphInvalid", "NodeFailed", "RunInterrupted", "GraphFormatError", "Problem",
           "validate", "check_graph", "load_prompt", "read_graph", "default_node_classes"]
