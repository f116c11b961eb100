"""noisekit inside ComfyUI's server: its progress bars, and the HTTP routes behind the live curves.

GET /noisekit/sigmas?type=<node type>&<widget>=<value>... runs that schedule or
sigma-tool node's own code on the widget values (a tool's SIGMAS inputs come as
comma-separated numbers, the upstream curve), so the picture is computed by the
same Python as the graph; JavaScript never re-implements a formula. GET
/noisekit/plot?axis=...&sigmas_1=... gives Sigma Plot's overlay the heights and
ticks of its chart. The handlers
are pure functions, no file or network access; ``install`` registers them.
"""
from __future__ import annotations

import math
import sys

import torch

from .. import progress
from ..schedules import MODEL_PRESETS
from ..schedules.tools import parse_sigmas
from .adapter import in_comfyui
from .plot import AXES, COLOURS, Axis
from .schedules import NODE_CLASS_MAPPINGS as SCHEDULE_NODES

MAX_STEPS = 1000


def _convert(name: str, decl, raw: str):
    kind = decl[0]
    if kind == "SIGMAS":
        return _sigma_list(name, raw)
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


def _sigma_list(name: str, raw: str) -> torch.Tensor:
    """An upstream curve from the query: any order (a flip tool's output ascends; the tool checks it)."""
    values = parse_sigmas(raw, "curve", name)
    if not 1 <= len(values) <= MAX_STEPS + 1:
        raise ValueError(f"'{name}' must list 1 to {MAX_STEPS + 1} comma-separated sigmas, got {len(values)}")
    return values


def schedule_curve(query: dict) -> tuple[int, dict]:
    """(HTTP status, JSON body): {"type", "sigmas": first output, "outputs": every output} or {"error"}."""
    node_type = query.get("type", "")
    cls = SCHEDULE_NODES.get(node_type)
    if cls is None:
        import difflib

        close = difflib.get_close_matches(node_type, list(SCHEDULE_NODES), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        return 400, {"error": f"unknown schedule or sigma-tool node {node_type!r}{hint}"}
    values = {}
    required = cls.INPUT_TYPES()["required"]
    is_tool = any(decl[0] == "SIGMAS" for decl in required.values())  # a tool's "steps" may be 0 (= keep all)
    try:
        for name, decl in required.items():
            if name in query:
                values[name] = _convert(name, decl, str(query[name]))
            elif decl[0] == "SIGMAS":
                raise ValueError(f"'{name}' is required: the upstream sigmas, comma-separated")
        if not is_tool and not 1 <= int(values.get("steps", 1)) <= MAX_STEPS:
            raise ValueError(f"'steps' must be between 1 and {MAX_STEPS} for a curve, got {values['steps']}")
        outputs = getattr(cls(), cls.FUNCTION)(**values)
    except (ValueError, KeyError, TypeError) as e:
        return 400, {"error": str(e)}
    lists = [[float(s) for s in out] for out in outputs]
    return 200, {"type": node_type, "sigmas": lists[0], "outputs": lists}


def plot_curve(query: dict) -> tuple[int, dict]:
    """(HTTP status, JSON body) for Sigma Plot's live overlay: the upstream curves (sigmas_1..4, comma-separated)
    as heights on the node's axis, the chart's own ticks and label (nodes/plot.py), or {"error"}."""
    try:
        given = [_sigma_list(f"sigmas_{k}", query[f"sigmas_{k}"]) for k in range(1, 5) if f"sigmas_{k}" in query]
        if not given:
            raise ValueError("'sigmas_1' is required: the upstream sigmas, comma-separated")
        axis = Axis(query.get("axis", AXES[0]), given)
    except ValueError as e:
        return 400, {"error": str(e)}
    return 200, {"axis": axis.name, "label": axis.label(), "log": axis.log, "colours": [
                     "#%02x%02x%02x" % c for c in COLOURS[:len(given)]],
                 "ticks": [[axis.fraction(v), text] for v, text in axis.ticks()],
                 "series": [axis.heights(s) for s in given]}


def presets(query: dict) -> tuple[int, dict]:
    return 200, {"presets": MODEL_PRESETS}


def install() -> bool:
    """Inside ComfyUI: progress bars become ComfyUI's ProgressBar (whose hook sends the progress
    event and raises ComfyUI's interrupt) and noisekit's routes join its server. Outside: nothing."""
    if not in_comfyui():
        return False
    import comfy.utils

    progress.set_bar(comfy.utils.ProgressBar)
    register_routes()
    return True


def register_routes() -> bool:
    """Add noisekit's GET routes to ComfyUI's server, when running inside it."""
    server = sys.modules.get("server")
    instance = getattr(getattr(server, "PromptServer", None), "instance", None)
    if instance is None:
        return False
    from aiohttp import web

    def json_route(path, handler):
        @instance.routes.get(path)
        async def route(request):
            status, body = handler(dict(request.rel_url.query))
            return web.json_response(body, status=status)

    json_route("/noisekit/sigmas", schedule_curve)
    json_route("/noisekit/plot", plot_curve)
    json_route("/noisekit/presets", presets)
    return True
