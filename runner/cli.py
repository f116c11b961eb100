"""``noisekit run`` executes saved ComfyUI graphs; ``noisekit test`` runs folders of them as a test suite;
``noisekit check`` validates them without running; ``noisekit convert`` turns a UI workflow into an API
prompt; ``noisekit nodes`` lists the node types the runner knows.

Exit codes of ``run``: 0 success, 2 invalid graph (every problem printed, each
naming node id, type and input), 3 a node failed at run time (``--over``: an input failed), 4 the outputs
differ from the goldens (``--golden``; ``--over``: an input's, and none failed), 130 interrupted (SIGINT),
143 terminated (SIGTERM); the top-level
``noisekit`` command (cli.py) turns whatever stops a command into its code and one line.
"""
from __future__ import annotations

import json
import os
import sys
import time

from .. import devices
from ..progress import JsonLines
from ..exits import (EXIT_FAILED, EXIT_GOLDEN, EXIT_INVALID, EXIT_MODELS_MISSING, EXIT_OK, EXIT_TESTS_FAILED, code_for,
                     describe)
from ..files import write_new
from . import golden, needs, pages, suite
from .comfy_runner import ComfyRunner
from .comfyui import find_comfyui, set_io_folders
from .convert import object_info_classes, workflow_to_prompt
from .engines import make_runner
from .execute import default_node_classes
from .load import default_input_dir, load_graph, read_workflow
from .outcome import GraphFormatError, GraphInvalid, NodeFailed, RunInterrupted
from .over import cmd_run_over
from .overrides import apply_sets, parse_set
from .report import build_report, check_writable, error_record, to_json, write_report
from .standins import PATHS, new_temp_dir


def cmd_run(args) -> int:
    if args.report:  # refused before the run, not after the images were written
        check_writable(args.report, "--report")
    if args.update_golden and not args.golden:
        raise ValueError("--update-golden needs --golden DIR (where to record)")
    if args.over:  # many inputs: runner/over.py
        return cmd_run_over(args)
    PATHS["input"] = os.path.abspath(args.input_dir or default_input_dir(args.graph))
    PATHS["output"] = os.path.abspath(args.output_dir)
    new_temp_dir()  # previews: a private folder, removed with the command's scratch folder
    run = {"classes": default_node_classes(), "prompt": None, "comfyui": {}, "result": None}
    try:
        code, extra = run_graph(args, run)
    except BaseException as e:
        if args.report:
            write_report(args.report, failure_report(args, run, e))
        raise
    if not args.json_progress:  # first: what was saved is said even when the report cannot be written
        for path in build_report(args.graph, "success", run["prompt"], run["result"])["outputs"]:
            print(path)
    if args.report:
        status = "success" if code == EXIT_OK else "golden_mismatch"
        write_report(args.report, {**build_report(args.graph, status, run["prompt"], run["result"], (),
                                                  run["classes"], args.device), **run["comfyui"], **extra})
    return code


def run_graph(args, run: dict) -> tuple[int, dict]:
    """Load, check and run the graph, then its goldens: (exit code, report fields); ``run`` keeps what the
    report needs (the node classes, the prompt, the result) as it becomes known, for a report after a failure."""
    runner = make_runner(args.comfyui, args.device, args.models_dir, args.custom_nodes,
                         JsonLines(default=to_json) if args.json_progress else None)
    run["classes"] = runner.node_classes
    if runner.info:
        run["comfyui"]["comfyui"] = runner.info
    prompt, workflow = load_graph(args.graph, run["classes"])
    run["prompt"] = prompt = apply_sets(prompt, parse_set(args.set), run["classes"])
    try:
        with devices.use_device(args.device):
            run["result"] = runner.run(prompt, {"workflow": workflow} if workflow else None)
    except GraphInvalid as e:
        e.where = args.graph
        raise
    except (NodeFailed, RunInterrupted) as e:
        run["result"] = getattr(e, "result", None)  # what ran before it stopped
        raise
    return golden_outcome(args, prompt, run["result"], run["classes"])


def failure_report(args, run: dict, error: BaseException) -> dict:
    """The report of a run that ``error`` stopped: its status, what ran and the errors."""
    code = code_for(error)
    status = {EXIT_INVALID: "invalid", EXIT_FAILED: "failed"}.get(code, "interrupted")
    if isinstance(error, GraphInvalid):
        errors = [p.to_dict() for p in error.problems]
    elif isinstance(error, NodeFailed):
        errors = [error.to_dict()]
    elif status == "interrupted":
        errors = [error_record(getattr(error, "node_id", None), getattr(error, "node_type", None), None,
                               "execution_interrupted", str(error) or "interrupted")]
    else:
        errors = [error_record(n, None, None, type(error).__name__, m)
                  for n, m in getattr(error, "problems", [(None, describe(error, args.graph))])]
    return {**build_report(args.graph, status, run["prompt"], run["result"], errors, run["classes"], args.device),
            **run["comfyui"]}


def golden_outcome(args, prompt, result, classes) -> tuple[int, dict]:
    """(exit code, report fields): every output's content hash, and with --golden the comparison
    (or the recording, with --update-golden); a mismatch is printed and pictured next to the report."""
    outputs = golden.collect(prompt, result, classes)
    extra = {"hashes": golden.hashes(outputs)}
    if not args.golden:
        return EXIT_OK, extra
    if args.update_golden:
        extra["golden"] = golden.update(args.golden, outputs, devices.device_class(args.device))
        print(f"noisekit run: recorded {len(outputs)} golden output(s) in {args.golden}", file=sys.stderr)
        return EXIT_OK, extra
    beside = os.path.dirname(os.path.abspath(args.report)) if args.report else os.path.abspath(args.output_dir)
    extra["golden"] = verdict = golden.check(args.golden, outputs, os.path.join(beside, "golden-diff"),
                                             devices.device_class(args.device))
    if verdict["status"] == "passed":
        return EXIT_OK, extra
    print(f"noisekit run: {args.graph}: {golden.mismatch_message(verdict)}", file=sys.stderr)
    return EXIT_GOLDEN, extra


def cmd_test(args) -> int:
    """Every graph of PATH... as a test case (runner/suite.py); the JUnit file, the HTML page and the report after."""
    for path, what in ((args.junit, "--junit"), (args.report, "--report")):
        if path:
            check_writable(path, what)
    if args.html and os.path.exists(os.path.join(args.html, "index.html")):
        raise ValueError(f"--html {args.html}: holds an index.html already; give a new folder")
    cases = suite.collect(args.paths)
    new_temp_dir()
    runner = make_runner(args.comfyui, args.device, args.models_dir, args.custom_nodes)
    start = time.perf_counter()
    outcomes = suite.run_suite(cases, runner, args.output_dir, args.device, args.update_golden)
    seconds = time.perf_counter() - start
    line = suite.summary_line(outcomes, seconds)
    if args.junit:
        pages.write_junit(args.junit, outcomes, seconds)
    if args.html:
        print(f"noisekit test: {pages.write_html(args.html, outcomes, 'noisekit test: ' + line, seconds)}")
    if args.report:
        write_report(args.report, {"summary": line, "device": args.device, **({"comfyui": runner.info} if runner.info
                     else {}), "cases": [o.to_dict() for o in outcomes]})
    print(f"=== {line} ===")
    return EXIT_OK if all(o.status == "passed" for o in outcomes) else EXIT_TESTS_FAILED


def cmd_check(args) -> int:
    """Validate every graph of PATH..., run nothing; missing model files apart from graph errors (runner/needs.py)."""
    new_temp_dir()
    engine = make_runner(args.comfyui, "cpu", args.models_dir, args.custom_nodes)
    records = []
    for case in suite.collect(args.paths):
        PATHS["input"] = os.path.abspath(args.input_dir or default_input_dir(case.graph))
        if engine.info:
            set_io_folders(PATHS)
        records.append(needs.check_one(case.graph, engine))
    if args.json:
        print(json.dumps({"graphs": records, "needs": needs.needs_of(records)}, indent=2))
    else:
        for record in records:
            lines = needs.describe(record)
            what = {"valid": "valid", "invalid": f"invalid graph, {len(record['problems'])} problem(s)",
                    "models_missing": f"valid, but {len(record['missing_models'])} model file(s) missing"}
            print(f"{record['graph']}: {what[record['status']]}" + "".join("\n" + line for line in lines))
        counts = {s: sum(r["status"] == s for r in records) for s in ("valid", "models_missing", "invalid")}
        print(f"=== {len(records)} graph(s): {counts['valid']} valid, {counts['models_missing']} missing model "
              f"files, {counts['invalid']} invalid ===")
    statuses = {r["status"] for r in records}
    return EXIT_INVALID if "invalid" in statuses else EXIT_MODELS_MISSING if "models_missing" in statuses else EXIT_OK


def cmd_convert(args) -> int:
    """UI workflow -> the API prompt ComfyUI's frontend would queue for it (stdout, or a new file)."""
    workflow = read_workflow(args.workflow)
    if args.comfyui or (args.object_info is None and os.environ.get("NOISEKIT_COMFYUI")):
        classes = ComfyRunner(find_comfyui(args.comfyui)).node_classes
    else:
        classes = {**default_node_classes(), **(object_info_classes(args.object_info) if args.object_info else {})}
    prompt = workflow_to_prompt(workflow, classes, strict=args.strict)
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


def add_comfyui_options(parser, comfyui_help: str):
    """--comfyui, --models-dir and --custom-nodes, as run, test and check take them."""
    parser.add_argument("--comfyui", metavar="PATH", help=f"{comfyui_help}; default $NOISEKIT_COMFYUI, or a ComfyUI "
                        "importable here")
    parser.add_argument("--models-dir", metavar="DIR", help="with ComfyUI: a models folder (checkpoints/, vae/, ...) "
                        "or an extra_model_paths.yaml")
    parser.add_argument("--custom-nodes", action="append", default=[], metavar="DIR",
                        help="with ComfyUI: another folder of custom node packs (repeatable)")


def add_parsers(sub):
    """Add the ``run``, ``test``, ``check``, ``convert`` and ``nodes`` subcommands to the ``noisekit`` command's subparsers; the
    options of a run over many inputs (--workers, --ray) are the top-level cli.py's."""
    run = sub.add_parser("run", help="validate and run a saved ComfyUI graph (API or UI format), with or without ComfyUI",
                         description="Exit codes: 0 success, 2 invalid graph, 3 a node failed (--over: an input "
                                     "failed), 4 outputs differ from the goldens (--golden; --over: an input's, none "
                                     "failed), 130 interrupted, 143 terminated (SIGTERM).")
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
    add_comfyui_options(run, "run with the real ComfyUI checkout at PATH, in this process (its nodes, comfy_extras, "
                        "PATH/custom_nodes and its executor; no server)")
    run.add_argument("--golden", metavar="DIR", help="compare every output with the goldens in DIR (tolerances in "
                     "DIR/golden.json); a mismatch exits 4 and writes diff pictures next to the report. With --over: "
                     "each input NAME with DIR/NAME/, its diff pictures in OUTPUT_DIR/NAME/golden-diff/; exit 4 when "
                     "any input differs")
    run.add_argument("--update-golden", action="store_true", help="record this run's outputs as the goldens in "
                     "--golden DIR (with --over: every input's in DIR/NAME/; the tolerance in golden.json is kept)")
    run.add_argument("--over", metavar="INPUTS", help="run the graph once per input: a folder of images (each "
                     "given to the LoadImage node) or a .jsonl/.csv file of --set rows; outputs go to "
                     "OUTPUT_DIR/NAME/, a manifest there lets a rerun skip what is done (with --golden: what "
                     "matched the goldens as they are now)")
    run.add_argument("--set-from", metavar="NODE_ID.INPUT", help="with --over a folder: the input each file "
                                                                   "name goes to (default: the LoadImage's image)")
    run.set_defaults(func=cmd_run)
    test = sub.add_parser("test", help="run saved graphs as a test suite against their goldens and checks",
                          description="Each graph is a test case; its goldens and checks are in NAME.golden/ beside "
                                      "it (see the README). A line per case, then a summary like pytest's. Exit "
                                      "codes: 0 success (every case passed), 1 a case failed or erred, 2 bad "
                                      "arguments or no graph found, 130 interrupted, 143 terminated (SIGTERM).")
    test.add_argument("paths", nargs="+", metavar="PATH", help="graph files (.json, .png saved by SaveImage) or "
                      "folders of them (not searched below)")
    test.add_argument("--junit", metavar="FILE", help="write a JUnit XML file: a testcase per graph")
    test.add_argument("--html", metavar="DIR", help="write DIR/index.html: every output image as golden | output | "
                      "diff, the messages and timings (pictures beside it)")
    test.add_argument("--report", metavar="FILE", help="write a JSON report: every case's status, messages, "
                      "timings and ui values")
    test.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps (default cpu); goldens of its "
                      "device class are used where recorded, else the CPU's at the cross-device tolerance")
    test.add_argument("--output-dir", help="keep the outputs here, a folder per case (default: a temporary folder)")
    test.add_argument("--update-golden", action="store_true", help="record every case's outputs as its goldens "
                      "(for this device class)")
    add_comfyui_options(test, "run every graph with this ComfyUI, loaded once")
    test.set_defaults(func=cmd_test)
    check = sub.add_parser("check", help="validate saved graphs without running them; list the model files and "
                                         "node types they need",
                           description="Every problem validation finds, with node id, type and input; a model file "
                                       "a loader would not find is reported apart (node, input, file, the folders "
                                       "looked in). Exit codes: 0 success (every graph valid, its model files "
                                       "present), "
                                       "2 a graph is invalid (or bad arguments), 5 the graphs are valid but model "
                                       "files are missing, 130 interrupted, 143 terminated (SIGTERM).")
    check.add_argument("paths", nargs="+", metavar="PATH", help="graph files (.json, .png saved by SaveImage) or "
                       "folders of them (not searched below)")
    check.add_argument("--input-dir", help="where LoadImage looks (default: input/ beside each graph, else ./input)")
    check.add_argument("--json", action="store_true", help="print, as JSON, every graph's problems, missing models "
                       "and needs, and what they all need: model files by folder, node types by pack")
    add_comfyui_options(check, "validate with this ComfyUI's nodes and rules")
    check.set_defaults(func=cmd_check)
    convert = sub.add_parser("convert", help="convert a UI workflow to the API prompt ComfyUI's frontend would queue",
                             description="Subgraphs, reroutes, primitive nodes, muted and bypassed nodes are resolved "
                                         "as the frontend's graphToPrompt does. Widget values are named with each "
                                         "node's INPUT_TYPES: noisekit's own, ComfyUI's (--comfyui) or a saved "
                                         "/object_info (--object-info). Exit codes: 0 success, 2 unreadable or "
                                         "invalid workflow or arguments, 130 interrupted, 143 terminated (SIGTERM).")
    convert.add_argument("workflow", help="UI workflow .json, or a PNG saved by SaveImage")
    convert.add_argument("-o", "--output", metavar="API.json", help="write here (never replacing a file); "
                                                                    "default stdout")
    convert.add_argument("--comfyui", metavar="PATH", help="a ComfyUI checkout whose nodes (and custom nodes) give "
                         "the INPUT_TYPES (default $NOISEKIT_COMFYUI)")
    convert.add_argument("--object-info", metavar="FILE", help="INPUT_TYPES from a ComfyUI /object_info JSON file")
    convert.add_argument("--strict", action="store_true", help="refuse (exit 2) saved widget values that do not fit "
                         "their node's widgets (more values than widgets, a value of the wrong type) instead of "
                         "warning on stderr")
    convert.set_defaults(func=cmd_convert)
    nodes = sub.add_parser("nodes", help="list the node types the runner knows",
                           description="Exit codes: 0 success, 2 bad arguments, 130 interrupted, 143 terminated "
                                       "(SIGTERM).")
    nodes.add_argument("--json", action="store_true", help="as JSON")
    nodes.set_defaults(func=cmd_nodes)
