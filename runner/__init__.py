"""Headless runner for saved ComfyUI graphs (both file formats), without ComfyUI.

``Runner().run(prompt)`` validates and executes an API prompt; ``load_prompt`` turns
either file format into one; ``noisekit run`` (runner/cli.py) wraps it all.
"""
from __future__ import annotations

from .execute import Runner, default_node_classes
from .formats import read_graph
from .load import load_prompt
from .outcome import GraphFormatError, GraphInvalid, NodeFailed, Problem, RunInterrupted, RunResult
from .validate import check_graph, validate

__all__ = ["Runner", "RunResult", "GraphInvalid", "NodeFailed", "RunInterrupted", "GraphFormatError", "Problem",
           "validate", "check_graph", "load_prompt", "read_graph", "default_node_classes"]
