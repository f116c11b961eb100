"""The ``noisekit`` command: ``run`` executes saved graphs; ``denoise``/``inpaint`` work on photos."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from . import photo_cli

EXIT_OK, EXIT_INVALID, EXIT_FAILED, EXIT_INTERRUPTED = 0, 2, 3, 130


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


def apply_sets(prompt: dict, sets) -> dict:
    for node_id, name, value in sets:
        if node_id not in prompt:
            raise ValueError(f"--set {node_id}.{name}: the graph has no node {node_id!r} (nodes: {', '.join(prompt)})")
        prompt[node_id]["inputs"][name] = value
    return prompt


class Events:
    """ComfyUI-shaped websocket events as JSON lines, or quiet (tqdm bars show progress)."""

    def __init__(self, json_lines: bool, prompt_id: str):
        self.json_lines, self.prompt_id, self.node = json_lines, prompt_id, None

    def __call__(self, event: str, data: dict):
        if event == "executing":
            self.node = data["node"]
        if self.json_lines:
            print(json.dumps({"type": event, "data": {**data, "prompt_id": self.prompt_id}}), flush=True)

    def progress(self, info: dict):
        self("progress", {"value": info["value"], "max": info["max"], "node": self.node})


def write_report(path: str | None, report: dict):
    if not path:
        return
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    os.replace(tmp, path)


def default_input_dir(graph_path: str) -> str:
    """input/ beside the graph if it exists (so example graphs find their photos), else ./input."""
    beside = os.path.join(os.path.dirname(os.path.abspath(graph_path)), "input")
    return beside if os.path.isdir(beside) else os.path.abspath("input")


def cmd_run(args) -> int:
    from .. import devices, progress
    from . import GraphInvalid, NodeFailed, Runner, load_prompt, node_classes, read_graph
    from .standins import PATHS

    report = {"graph": args.graph, "status": "failed", "timings": {}, "outputs": [], "errors": []}
    events = Events(args.json_progress, prompt_id=f"{os.getpid()}-{int(time.time())}")
    try:
        devices.set_device(args.device)
        PATHS["input"] = os.path.abspath(args.input_dir or default_input_dir(args.graph))
        PATHS["output"] = os.path.abspath(args.output_dir)
        classes = node_classes()
        data, _ = read_graph(args.graph)
        prompt, workflow = load_prompt(data, classes)
        prompt = apply_sets(prompt, parse_set(args.set))
        if args.json_progress:
            progress.set_reporter(events.progress)
        result = Runner(classes, on_event=events).run(prompt, {"workflow": workflow} if workflow else None)
    except GraphInvalid as e:
        report.update(status="invalid", errors=[p.to_dict() for p in e.problems])
        print(str(e), file=sys.stderr)
        write_report(args.report, report)
        return EXIT_INVALID
    except (ValueError, OSError) as e:  # unreadable file, bad --set or --device
        report.update(status="invalid", errors=[{"node_id": None, "node_type": None, "input": None,
                                                 "type": type(e).__name__, "message": str(e)}])
        print(f"noisekit run: {e}", file=sys.stderr)
        write_report(args.report, report)
        return EXIT_INVALID
    except NodeFailed as e:
        events("execution_error", e.to_dict())
        report["errors"] = [e.to_dict()]
        print(f"noisekit run: {e}", file=sys.stderr)
        write_report(args.report, report)
        return EXIT_FAILED
    except (KeyboardInterrupt, progress.Interrupted):
        events("execution_interrupted", {})
        report["status"] = "interrupted"
        print("noisekit run: interrupted", file=sys.stderr)
        write_report(args.report, report)
        return EXIT_INTERRUPTED
    finally:
        progress.set_reporter(None)
    written = [img["path"] for ui in result.ui.values() for img in ui.get("images", []) if img.get("type") == "output"]
    report.update(status="success", timings={k: round(v, 4) for k, v in result.timings.items()}, outputs=written,
                  executed=result.executed, cached=result.cached)
    write_report(args.report, report)
    for path in written:
        print(path)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="noisekit", description="noisekit: diffusion schedules, samplers, photo "
                                     "denoise/inpaint, and a headless runner for saved ComfyUI graphs.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a saved ComfyUI graph (API or UI format) without ComfyUI")
    run.add_argument("graph", help="graph .json (either ComfyUI format) or a PNG saved by SaveImage")
    run.add_argument("--set", action="append", default=[], metavar="NODE_ID.INPUT=VALUE",
                     help="override a node input before validation (repeatable)")
    run.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps")
    run.add_argument("--input-dir", help="where LoadImage looks (default: input/ beside the graph, else ./input)")
    run.add_argument("--output-dir", default="output", help="where SaveImage writes (default ./output)")
    run.add_argument("--report", help="write a JSON report (status, timings, outputs, errors) here")
    run.add_argument("--json-progress", action="store_true", help="print ComfyUI-style events as JSON lines")
    run.set_defaults(func=cmd_run)
    photo_cli.add_parsers(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run":
        return args.func(args)
    try:
        return args.func(args)
    except (ValueError, OSError) as e:
        print(f"noisekit {args.command}: {e}", file=sys.stderr)
        return EXIT_INVALID
