"""``noisekit run`` executes saved ComfyUI graphs; ``noisekit convert`` turns a UI workflow into an API
prompt; ``noisekit nodes`` lists the node types the runner knows.

Exit codes of ``run``: 0 success, 2 invalid graph (every problem printed, each
naming node id, type and input), 3 a node failed at run time, 4 the outputs differ
from the goldens (``--golden``), 130 interrupted.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading

from ..exits import EXIT_FAILED, EXIT_GOLDEN, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK


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
    if getattr(args, "over", None):  # many inputs: runner/batch.py
        from .batch import cmd_run_over

        return cmd_run_over(args)
    from .. import devices
    from . import GraphFormatError, GraphInvalid, NodeFailed, RunInterrupted, load_prompt, read_graph
    from .execute import default_node_classes
    from ..files import write_json_atomic
    from .report import JsonLines, build_report, check_writable, error_record, to_json
    from .standins import PATHS

    if args.report:  # refused before the run, not after the images were written
        try:
            check_writable(args.report, "--report")
        except ValueError as e:
            print(f"noisekit run: {e}", file=sys.stderr)
            return EXIT_INVALID

    PATHS["input"] = os.path.abspath(args.input_dir or default_input_dir(args.graph))
    PATHS["output"] = os.path.abspath(args.output_dir)
    PATHS["temp"] = None  # the run's first preview makes a fresh private folder (mkdtemp)
    classes, prompt, comfyui = default_node_classes(), None, {}

    def finish(code, status, message=None, extra=None, **fields):
        if message:
            print(message, file=sys.stderr)
        if args.report:
            report = build_report(args.graph, status, prompt, node_classes=classes, device=args.device, **fields)
            write_json_atomic(args.report, {**report, **comfyui, **(extra or {})}, default=to_json)
        return code

    if args.update_golden and not args.golden:
        return finish(EXIT_INVALID, "invalid", "noisekit run: --update-golden needs --golden DIR (where to record)")
    try:
        runner = make_runner(args, JsonLines() if args.json_progress else None)
        classes = runner.node_classes
        if getattr(runner, "info", None):
            comfyui["comfyui"] = runner.info
        prompt, workflow = load_prompt(read_graph(args.graph), classes)
        prompt = apply_sets(prompt, parse_set(args.set), classes)
        with devices.use_device(args.device), first_ctrl_c_interrupts():
            result = runner.run(prompt, {"workflow": workflow} if workflow else None)
    except GraphInvalid as e:
        lines = "\n".join(f"  - {p}" for p in e.problems)
        return finish(EXIT_INVALID, "invalid", f"noisekit run: {args.graph}: invalid graph, "
                                               f"{len(e.problems)} problem(s):\n{lines}",
                      errors=[p.to_dict() for p in e.problems])
    except (GraphFormatError, ValueError, OSError) as e:  # unreadable graph, bad --set or --device
        return finish(EXIT_INVALID, "invalid", f"noisekit run: {e}",
                      errors=[error_record(n, None, None, type(e).__name__, m) for n, m in
                              getattr(e, "problems", [(None, str(e))])])
    except NodeFailed as e:
        return finish(EXIT_FAILED, "failed", f"noisekit run: {e}", result=getattr(e, "result", None),
                      errors=[e.to_dict()])
    except RunInterrupted as e:
        return finish(EXIT_INTERRUPTED, "interrupted", f"noisekit run: {e}", result=getattr(e, "result", None),
                      errors=[error_record(e.node_id, e.node_type, None, "execution_interrupted", str(e))])
    except KeyboardInterrupt:  # a second Ctrl-C while loading or validating, before any node ran
        return finish(EXIT_INTERRUPTED, "interrupted", "noisekit run: interrupted",
                      errors=[error_record(None, None, None, "execution_interrupted", "interrupted")])
    try:
        code, extra = golden_outcome(args, prompt, result, classes)
    except (ValueError, OSError) as e:  # unreadable goldens or sidecar
        return finish(EXIT_INVALID, "invalid", f"noisekit run: --golden: {e}", result=result,
                      errors=[error_record(None, None, None, type(e).__name__, str(e))])
    code = finish(code, "success" if code == EXIT_OK else "golden_mismatch", extra=extra, result=result)
    if not args.json_progress:
        for path in build_report(args.graph, "success", prompt, result)["outputs"]:
            print(path)
    return code


def make_runner(args, on_event):
    """ComfyUI's own nodes and executor in-process when a ComfyUI is given (--comfyui, $NOISEKIT_COMFYUI)
    or importable, else noisekit's runner with its stand-ins for ComfyUI's core nodes."""
    from .comfy import ComfyRunner, find_comfyui
    from .execute import Runner, default_node_classes

    path = find_comfyui(args.comfyui)
    if path is None:
        if args.models_dir or args.custom_nodes:
            raise ValueError("--models-dir and --custom-nodes are ComfyUI's folders: pass --comfyui PATH too")
        return Runner(default_node_classes(), on_event=on_event)
    return ComfyRunner(path, args.device, args.models_dir, args.custom_nodes, on_event=on_event)


def golden_outcome(args, prompt, result, classes) -> tuple[int, dict]:
    """(exit code, report fields): every output's content hash, and with --golden the comparison
    (or the recording, with --update-golden); a mismatch is printed and pictured next to the report."""
    from . import golden

    outputs = golden.collect(prompt, result, classes)
    extra = {"hashes": golden.hashes(outputs)}
    if not args.golden:
        return EXIT_OK, extra
    if args.update_golden:
        extra["golden"] = golden.update(args.golden, outputs)
        print(f"noisekit run: recorded {len(outputs)} golden output(s) in {args.golden}", file=sys.stderr)
        return EXIT_OK, extra
    beside = os.path.dirname(os.path.abspath(args.report)) if args.report else os.path.abspath(args.output_dir)
    extra["golden"] = verdict = golden.check(args.golden, outputs, os.path.join(beside, "golden-diff"))
    if verdict["status"] == "passed":
        return EXIT_OK, extra
    lines = "\n".join(f"  - {line}" for line in golden.summary(verdict))
    print(f"noisekit run: {args.graph}: outputs differ from the goldens in {args.golden}:\n{lines}", file=sys.stderr)
    return EXIT_GOLDEN, extra


def cmd_convert(args) -> int:
    """UI workflow -> the API prompt ComfyUI's frontend would queue for it (stdout, or a new file)."""
    from ..files import write_new
    from .convert import object_info_classes, workflow_to_prompt
    from .execute import default_node_classes
    from .formats import GraphFormatError, is_ui_workflow, read_graph

    workflow = read_graph(args.workflow)
    workflow = workflow.get("png_chunks", {}).get("workflow", workflow) if isinstance(workflow, dict) else workflow
    if not is_ui_workflow(workflow):
        raise GraphFormatError(f"{args.workflow}: not a UI workflow (no 'nodes' and 'links'); an API prompt needs "
                               "no conversion")
    if args.comfyui or (args.object_info is None and os.environ.get("NOISEKIT_COMFYUI")):
        from .comfy import ComfyRunner, find_comfyui

        classes = ComfyRunner(find_comfyui(args.comfyui)).node_classes
    else:
        classes = {**default_node_classes(), **(object_info_classes(args.object_info) if args.object_info else {})}
    prompt = workflow_to_prompt(workflow, classes)
    unknown = sorted({f"{node['class_type']} (node {node_id})" for node_id, node in prompt.items()
                      if node["class_type"] not in classes})
    if unknown:
        raise GraphFormatError(f"{args.workflow}: no INPUT_TYPES for {', '.join(unknown)}, so their widget values "
                               "cannot be named: pass --comfyui PATH (a ComfyUI checkout with those nodes) or "
                               "--object-info FILE (saved from a running ComfyUI's /object_info)")
    text = json.dumps(prompt, indent=2) + "\n"
    if args.output:
        write_new(args.output, lambda f: f.write(text.encode("utf-8")))
    else:
        sys.stdout.write(text)
    return EXIT_OK


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
    run = sub.add_parser("run", help="validate and run a saved ComfyUI graph (API or UI format), with or without ComfyUI",
                         description="Exit codes: 0 success, 2 invalid graph, 3 a node failed, 4 outputs differ from "
                                     "the goldens (--golden), 130 interrupted.")
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
    run.add_argument("--comfyui", metavar="PATH", help="run with the real ComfyUI checkout at PATH, in this process "
                     "(its nodes, comfy_extras, PATH/custom_nodes and its executor; no server); default "
                     "$NOISEKIT_COMFYUI, or a ComfyUI importable here")
    run.add_argument("--models-dir", metavar="DIR", help="with ComfyUI: a models folder (checkpoints/, vae/, ...) or "
                                                         "an extra_model_paths.yaml")
    run.add_argument("--custom-nodes", action="append", default=[], metavar="DIR",
                     help="with ComfyUI: another folder of custom node packs (repeatable)")
    run.add_argument("--golden", metavar="DIR", help="compare every output with the goldens in DIR (tolerances in "
                     "DIR/golden.json); a mismatch exits 4 and writes diff pictures next to the report")
    run.add_argument("--update-golden", action="store_true", help="record this run's outputs as the goldens in "
                     "--golden DIR (the tolerance in DIR/golden.json is kept)")
    run.add_argument("--over", metavar="INPUTS", help="run the graph once per input: a folder of images (each "
                     "given to the LoadImage node) or a .jsonl/.csv file of --set rows; outputs go to "
                     "OUTPUT_DIR/NAME/, a manifest there lets a rerun skip what is done")
    run.add_argument("--set-from", metavar="NODE_ID.INPUT", help="with --over a folder: the input each file "
                                                                   "name goes to (default: the LoadImage's image)")
    from .. import batch

    batch.add_arguments(run, json_progress=False)
    run.set_defaults(func=cmd_run)
    convert = sub.add_parser("convert", help="convert a UI workflow to the API prompt ComfyUI's frontend would queue",
                             description="Subgraphs, reroutes, primitive nodes, muted and bypassed nodes are resolved "
                                         "as the frontend's graphToPrompt does. Widget values are named with each "
                                         "node's INPUT_TYPES: noisekit's own, ComfyUI's (--comfyui) or a saved "
                                         "/object_info (--object-info). Exit codes: 0 success, 2 unreadable or "
                                         "invalid workflow or arguments, 130 interrupted.")
    convert.add_argument("workflow", help="UI workflow .json, or a PNG saved by SaveImage")
    convert.add_argument("-o", "--output", metavar="API.json", help="write here (never replacing a file); "
                                                                    "default stdout")
    convert.add_argument("--comfyui", metavar="PATH", help="a ComfyUI checkout whose nodes (and custom nodes) give "
                         "the INPUT_TYPES (default $NOISEKIT_COMFYUI)")
    convert.add_argument("--object-info", metavar="FILE", help="INPUT_TYPES from a ComfyUI /object_info JSON file")
    convert.set_defaults(func=cmd_convert)
    nodes = sub.add_parser("nodes", help="list the node types the runner knows",
                           description="Exit codes: 0 success, 2 bad arguments, 130 interrupted.")
    nodes.add_argument("--json", action="store_true", help="as JSON")
    nodes.set_defaults(func=cmd_nodes)
