"""``--set NODE_ID.INPUT=VALUE``: node inputs overridden before validation, given on the command line or,
with ``run --over``, by each row of a JSONL/CSV file."""
from __future__ import annotations

import json

from .formats import normalize_api
from .validate import declared_inputs


def parse_set(items: list[str]) -> list[tuple[str, str, object]]:
    """NODE_ID.INPUT=VALUE, the value parsed as JSON when it is JSON, else taken as text."""
    out = []
    for item in items:
        target, sep, raw = item.partition("=")
        node_id, dot, name = target.partition(".")
        if not sep or not dot or not node_id or not name:
            raise ValueError(f"--set {item!r}: expected NODE_ID.INPUT=VALUE, e.g. --set 3.seed=42")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.append((node_id, name, value))
    return out


def as_sets(assignments: dict) -> list[tuple[str, str, object]]:
    """{"3.seed": 42} -> [("3", "seed", 42)], each NODE_ID.INPUT checked as --set checks it."""
    return [(node_id, name, value) for (node_id, name, _), value
            in zip(parse_set([f"{target}=" for target in assignments]), assignments.values())]


def apply_sets(prompt: dict, sets, node_classes: dict) -> dict:
    """Override node inputs before validation; the node must exist and declare the input."""
    for node_id, name, value in sets:
        if node_id not in prompt:
            raise ValueError(f"--set {node_id}.{name}: the graph has no node {node_id!r} (nodes: {', '.join(prompt)})")
        cls = node_classes.get(prompt[node_id].get("class_type"))
        declared = declared_inputs(cls.INPUT_TYPES()) if cls is not None else None
        if declared is not None and name not in declared:
            raise ValueError(f"--set {node_id}.{name}: node {node_id} ({prompt[node_id]['class_type']}) has no input "
                             f"{name!r}; its inputs: {', '.join(declared)}")
        prompt[node_id]["inputs"][name] = value
    return normalize_api(prompt)
