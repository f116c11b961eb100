"""The runner's vocabulary, one module that both engines (execute.Runner, comfy_runner.ComfyRunner) and the
commands import: what an engine offers (Engine), what a run returns (RunResult), and what stops a graph from
running or finishing (GraphFormatError, GraphInvalid with its Problems, NodeFailed, RunInterrupted), each
with the exit code it gives a command (exits.code_for)."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from .. import progress
from ..exits import EXIT_FAILED, EXIT_INVALID
from ..limits import OverBudget


class GraphFormatError(ValueError):
    """A file that is not a ComfyUI graph, or one whose structure is malformed: ``problems`` holds
    (node id or None, message) for each defect found."""

    def __init__(self, message: str, problems=()):
        self.problems = list(problems) or [(None, message)]
        lines = "".join(f"\n  - {'graph' if n is None else f'node {n}'}: {m}" for n, m in problems)
        super().__init__(message + lines)


@dataclass
class Problem:
    """One thing validation found wrong, with the node, its type and the input it is about."""
    node_id: str | None
    node_type: str | None
    input: str | None
    type: str
    message: str

    def __str__(self):
        where = "graph" if self.node_id is None else f"node {self.node_id} ({self.node_type})"
        return where + (f", input '{self.input}'" if self.input else "") + f": {self.message}"

    def to_dict(self):
        return asdict(self)


class GraphInvalid(Exception):
    """Validation found problems; nothing ran. ``where``: the file, once a command knows it."""
    exit_code = EXIT_INVALID

    def __init__(self, problems, where: str | None = None):
        self.problems, self.where = problems, where
        super().__init__(problems)

    def __str__(self):
        lines = "\n".join(f"  - {p}" for p in self.problems)
        return f"{self.where + ': ' if self.where else ''}invalid graph, {len(self.problems)} problem(s):\n{lines}"


class NodeFailed(Exception):
    """A node raised; names the node, its type and (when the message names one) the input. Exit code 2 when
    the node refused the value of one of its inputs (a ValueError naming it, as NodeError), else 3 (work
    refused by the memory budget included)."""

    def __init__(self, node_id: str, node_type: str, error: BaseException, input_names=()):
        self.node_id, self.node_type, self.error = node_id, node_type, error
        self.input = failing_input(error, input_names)
        refused = isinstance(error, ValueError) and not isinstance(error, OverBudget) and self.input is not None
        self.exit_code = EXIT_INVALID if refused else EXIT_FAILED
        super().__init__(f"node {node_id} ({node_type}) failed: {type(error).__name__}: {error}")

    def to_dict(self):
        return {"node_id": self.node_id, "node_type": self.node_type, "input": self.input,
                "type": type(self.error).__name__, "message": str(self.error)}


class RunInterrupted(progress.Interrupted):
    """Ctrl-C, SIGTERM or ``progress.interrupt()``: the run stopped between nodes or steps."""

    def __init__(self, node_id, node_type, executed):
        self.node_id, self.node_type, self.executed = node_id, node_type, executed
        super().__init__(f"interrupted at node {node_id} ({node_type})" if node_id else "interrupted")


def failing_input(error: BaseException, input_names) -> str | None:
    """The input an error message is about: NodeError.input, "input 'x'", or a quoted input name."""
    if getattr(error, "input", None) in input_names:
        return error.input
    text = str(error)
    found = re.search(r"input '([^']+)'", text)
    if found and found.group(1) in input_names:
        return found.group(1)
    return next((n for n in input_names if f"'{n}'" in text or f'"{n}"' in text), None)


@dataclass
class RunResult:
    prompt_id: str
    outputs: dict = field(default_factory=dict)  # node id -> tuple, one value per output (a list if a list)
    ui: dict = field(default_factory=dict)  # node id -> ui dict of output nodes (cached ones too)
    executed: list = field(default_factory=list)
    cached: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)  # node id -> seconds, executed nodes only


class Engine:
    """What both engines offer the commands: ``node_classes``, ``run(prompt, extra_pnginfo, prompt_id)`` ->
    RunResult (or GraphInvalid / NodeFailed / RunInterrupted), ``info`` on what runs the nodes (None: noisekit
    itself), and ComfyUI-shaped websocket events passed to ``on_event(type, data)``."""

    info: dict | None = None

    def __init__(self, node_classes: dict, on_event=None):
        self.node_classes, self.on_event = node_classes, on_event

    def emit(self, event: str, data: dict):
        if self.on_event is not None:
            self.on_event(event, data)

    def outputs(self, kind: str, lists) -> tuple:
        """A node's outputs from the lists of items in its output slots: a slot's one item, or the list when
        the slot is OUTPUT_IS_LIST or holds several."""
        is_list = getattr(self.node_classes.get(kind), "OUTPUT_IS_LIST", None) or (False,) * len(lists)
        return tuple(v[0] if len(v) == 1 and not is_list[k] else v for k, v in enumerate(lists))
