"""The schedule-curve route behind the live curves on schedule nodes.

GET /noisekit/sigmas?type=<node type>&<widget>=<value>... runs that schedule
node's own code on the widget values, so the picture is computed by the same
Python as the graph; JavaScript never re-implements a formula. Pure functions
here; nodes/compat.py registers them on ComfyUI's server.
"""
from __future__ import annotations

import math

from ..schedules import MODEL_PRESETS
from .schedules import NODE_CLASS_MAPPINGS as SCHEDULE_NODES

MAX_STEPS = 1000


def _convert(name: str, decl, raw: str):
    kind, opts = decl[0], (decl[1] if len(decl) > 1 else {})
    if isinstance(kind, list):
        if raw not in kind:
            raise ValueError(f"'{name}' must be one of {kind}, got {raw!r}")
        return raw
    if kind == "BOOLEAN":
        return raw.lower() in ("1", "true", "yes")
    try:
        value = int(raw) if kind == "INT" else float(raw)
    except ValueError:
        raise ValueError(f"'{name}' must be a number, got {raw!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"'{name}' must be finite, got {raw!r}")
    return value


def schedule_curve(query: dict) -> tuple[int, dict]:
    """(HTTP status, JSON body): {"sigmas": [...]} or {"error": "..."}."""
    node_type = query.get("type", "")
    cls = SCHEDULE_NODES.get(node_type)
    if cls is None:
        import difflib

        close = difflib.get_close_matches(node_type, list(SCHEDULE_NODES), n=3)
        return 400, {"error": f"unknown schedule node {node_type!r}" + (f"; did you mean {', '.join(close)}?"
                                                                          if close else "")}
    values = {}
    try:
        for name, decl in cls.INPUT_TYPES()["required"].items():
            if name in query:
                values[name] = _convert(name, decl, str(query[name]))
        if not 1 <= int(values.get("steps", 1)) <= MAX_STEPS:
            raise ValueError(f"'steps' must be between 1 and {MAX_STEPS} for a curve, got {values['steps']}")
        (sigmas,) = cls().make(**values)
    except (ValueError, KeyError, TypeError) as e:
        return 400, {"error": str(e)}
    return 200, {"type": node_type, "sigmas": [float(s) for s in sigmas]}


def presets() -> tuple[int, dict]:
    return 200, {"presets": MODEL_PRESETS}
