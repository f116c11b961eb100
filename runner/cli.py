"""``noisekit run`` executes saved ComfyUI graphs; ``noisekit nodes`` lists the node types it knows.

Exit codes of ``run``: 0 success, 2 invalid graph (every problem printed, each
naming node id, type and input), 3 a node failed at run time, 130 interrupted.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading

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


def apply_sets(prompt: dict, sets, node_classes: dict) -> dict:
    """Override node inputs before validation; the node must exist and declare the input."""
    from .formats import normalize_api
    from .validate import declared_inputs

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


@contextlib.contextmanager
def first_ctrl_c_interrupts():
    """First Ctrl-C: stop at the next step or node boundary; a second one stops at once."""
    from .. import progress

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if progress.interrupt_requested():
            raise KeyboardInterrupt
        progress.interrupt()
        print("\nnoisekit run: stopping after the current step (Ctrl-C again to stop now)", file=sys.stderr)

    old = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def default_input_dir(graph_path: str) -> str:
    """input/ beside the graph if it exists (so example graphs find their photos), else ./input."""
    beside = os.path.join(os.path.dirname(os.path.abspath(graph_path)), "input")
    return beside if os.path.isdir(beside) else os.path.abspath("input")


def cmd_run(args) -> int:
    from .. import devices
    from . import GraphFormatError, GraphInvalid, NodeFailed, Runner, RunInterrupted, load_prompt, read_graph
    from .execute import default_node_classes
    from .report import JsonLines, build_report, error_record, write_json_atomic
    from .standins import PATHS

    PATHS["input"] = os.path.abspath(args.input_dir or default_input_dir(args.graph))
    PATHS["output"] = os.path.abspath(args.output_dir)
    classes, prompt = default_node_classes(), None

    def finish(code, status, message=None, **fields):
        if message:
            print(message, file=sys.stderr)
        if args.report:
            write_json_atomic(args.report, build_report(args.graph, status, prompt, node_classes=classes,
                                                        device=args.device, **fields))
        return code

    try:
        prompt, workflow = load_prompt(read_graph(args.graph), classes)
        prompt = apply_sets(prompt, parse_set(args.set), classes)
        runner = Runner(classes, on_event=JsonLines() if args.json_progress else None)
        with devices.use_device(args.device), first_ctrl_c_interrupts():
            result = runner.run(prompt, {"workflow": workflow} if workflow else None)
    except GraphInvalid as e:
        lines = "\n".join(f"  - {p}" for p in e.problems)
        return finish(EXIT_INVALID, "invalid", f"noisekit run: {args.graph}: invalid graph, "
                                               f"{len(e.problems)} problem(s):\n{lines}",
                      errors=[p.to_dict() for p in e.problems])
    except (GraphFormatError, ValueError, OSError) as e:  # unreadable graph, bad --set or --device
        return finish(EXIT_INVALID, "invalid", f"noisekit run: {e}",
                      errors=[error_record(None, None, None, type(e).__name__, str(e))])
    except NodeFailed as e:
        return finish(EXIT_FAILED, "failed", f"noisekit run: {e}", result=getattr(e, "result", None),
                      errors=[e.to_dict()])
    except RunInterrupted as e:
        return finish(EXIT_INTERRUPTED, "interrupted", f"noisekit run: {e}", result=getattr(e, "result", None),
                      errors=[error_record(e.node_id, e.node_type, None, "execution_interrupted", str(e))])
    except KeyboardInterrupt:  # a second Ctrl-C while loading or validating, before any node ran
        return finish(EXIT_INTERRUPTED, "interrupted", "noisekit run: interrupted",
                      errors=[error_record(None, None, None, "execution_interrupted", "interrupted")])
    code = finish(EXIT_OK, "success", result=result)
    if not args.json_progress:
        for path in build_report(args.graph, "success", prompt, result)["outputs"]:
            print(path)
    return code


def cmd_nodes(args) -> int:
    from .execute import default_node_classes

    classes = default_node_classes()
    rows = [{"name": name, "category": getattr(cls, "CATEGORY", "sd"), "outputs": list(cls.RETURN_TYPES),
             "output_node": bool(getattr(cls, "OUTPUT_NODE", False)), "standin": bool(getattr(cls, "STANDIN", False))}
            for name, cls in sorted(classes.items())]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            tag = " [stand-in for ComfyUI's core node]" if row["standin"] else ""
            print(f"{row['name']:<36} {row['category']:<28} -> {', '.join(row['outputs']) or '(output)'}{tag}")
    return EXIT_OK


def add_parsers(sub):
    """Add the ``run`` and ``nodes`` subcommands to the ``noisekit`` command's subparsers."""
    run = sub.add_parser("run", help="validate and run a saved ComfyUI graph (API or UI format) without ComfyUI",
                         description="Validate the whole graph (every problem listed), then run the nodes "
                                     "that feed an output node.")
    run.add_argument("graph", help="graph .json (either ComfyUI format) or a PNG saved by SaveImage")
    run.add_argument("--set", action="append", default=[], metavar="NODE_ID.INPUT=VALUE",
                     help="override a node input before validation; VALUE is JSON if it parses, else text "
                          "(repeatable)")
    run.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps (default cpu)")
    run.add_argument("--input-dir", help="where LoadImage looks (default: input/ beside the graph, else ./input)")
    run.add_argument("--output-dir", default="output", help="where SaveImage writes (default ./output)")
    run.add_argument("--report", metavar="FILE", help="write a JSON report: status, per-node timings, outputs "
                                                      "written, errors")
    run.add_argument("--json-progress", action="store_true",
                     help="print ComfyUI-style websocket events as JSON lines on stdout")
    run.set_defaults(func=cmd_run)
    nodes = sub.add_parser("nodes", help="list the node types the runner knows")
    nodes.add_argument("--json", action="store_true", help="as JSON")
    nodes.set_defaults(func=cmd_nodes)
