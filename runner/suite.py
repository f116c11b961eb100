"""``noisekit test PATH...``: saved graphs as a test suite, run in one process by one engine (ComfyUI loaded once).

A test case is a graph file (either ComfyUI format, or a PNG saved by SaveImage) and, beside it, the folder
``NAME.golden/`` (NAME: the file's name without .json or .png)::

    workflows/portrait.json               the graph
    workflows/portrait.golden/            golden.py's folder: golden.json (tolerance, content hashes) and the
                                          outputs recorded on the CPU; cuda-8.9/, mps/, ...: recorded there
    workflows/portrait.golden/test.json   optional: {"set": {"3.seed": 7}, "input_dir": "input",
                                          "checks": [...]}: --set values, LoadImage's folder (relative to
                                          test.json), and assertions (runner/asserts.py)

A folder given stands for the graphs directly in it (.json files, and .png files that carry a graph); its
sub-folders are not searched (name them too). A case passes when its graph runs, its outputs match its goldens
(where recorded, golden.for_device) and every check holds; without goldens or checks, running is the test. A
case that fails (an output or a check) or errors (an unreadable or invalid graph, a node that raised) does not
stop the others; an interruption stops the suite.
"""
from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass, field

from PIL import Image

from .. import devices
from ..exits import describe
from ..files import read_limited, temp_folder
from . import asserts, golden
from .comfyui import set_io_folders
from .formats import MAX_GRAPH_BYTES, parse_json
from .load import default_input_dir, load_graph
from .outcome import RunInterrupted
from .overrides import apply_sets, as_sets
from .standins import PATHS

CASE_SUFFIX = ".golden"
TEST_FILE = "test.json"
OPTIONS = ("set", "input_dir", "checks")


@dataclass
class Case:
    name: str  # the graph's path without its extension, as given
    graph: str
    folder: str  # NAME.golden/

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", self.name).strip("._") or "case"


@dataclass
class Outcome:
    """What one case gave: ``status`` passed, failed (outputs or checks) or error (it did not run through)."""
    case: Case
    status: str = "passed"
    seconds: float = 0.0
    messages: list = field(default_factory=list)
    images: list = field(default_factory=list)  # {"name", "output", "golden" (path or None), "verdict" (or None)}
    timings: dict = field(default_factory=dict)  # node id -> seconds
    ui: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"name": self.case.name, "graph": self.case.graph, "status": self.status,
                "seconds": round(self.seconds, 3), "messages": self.messages, "timings": self.timings,
                "ui": self.ui, "images": self.images}


def carries_graph(path: str) -> bool:
    """A PNG with ComfyUI's 'prompt' or 'workflow' text chunk (a SaveImage output), not any picture."""
    try:
        with Image.open(path) as img:
            return bool({"prompt", "workflow"} & set(img.info))
    except (OSError, ValueError, SyntaxError):
        return False


def collect(paths: list[str]) -> list[Case]:
    """The cases of the files and folders given, in their order (a folder's graphs by name)."""
    graphs = []
    for path in paths:
        if os.path.isdir(path):
            names = sorted(os.listdir(path))
            graphs += [os.path.join(path, n) for n in names if os.path.isfile(os.path.join(path, n))
                       and (n.lower().endswith(".json") or (n.lower().endswith(".png")
                                                            and carries_graph(os.path.join(path, n))))]
        elif os.path.isfile(path):
            graphs.append(path)
        else:
            raise ValueError(f"noisekit test {path}: no such file or folder")
    if not graphs:
        raise ValueError(f"noisekit test {' '.join(paths)}: no graph (.json, or .png saved by SaveImage) there")
    cases = []
    for graph in dict.fromkeys(os.path.normpath(g) for g in graphs):
        stem = os.path.splitext(graph)[0]
        cases.append(Case(stem, graph, stem + CASE_SUFFIX))
    return cases


def read_options(case: Case) -> dict:
    """The case's test.json ({} when it has none), checked."""
    path = os.path.join(case.folder, TEST_FILE)
    if not os.path.isfile(path):
        return {"set": {}, "input_dir": None, "checks": []}
    data = parse_json(read_limited(path, MAX_GRAPH_BYTES, "a test case's test.json"), path)
    if not isinstance(data, dict) or set(data) - set(OPTIONS):
        raise ValueError(f"{path}: expected an object with some of {list(OPTIONS)}")
    if not isinstance(data.get("set", {}), dict):
        raise ValueError(f"{path}: 'set' must be an object like {{\"3.seed\": 7}}")
    input_dir = data.get("input_dir")
    if input_dir is not None and not isinstance(input_dir, str):
        raise ValueError(f"{path}: 'input_dir' must be a folder path (relative to {TEST_FILE})")
    return {"set": data.get("set", {}), "checks": asserts.parse(data.get("checks", []), path),
            "input_dir": None if input_dir is None else os.path.normpath(os.path.join(case.folder, input_dir))}


def has_goldens(case: Case, device_class: str) -> bool:
    return any(os.path.isfile(os.path.join(d, golden.SIDECAR))
               for d in (case.folder, golden.class_dir(case.folder, device_class)))


def run_case(case: Case, runner, out_dir: str, device: str, update: bool, kept: bool = True) -> Outcome:
    """Run one case with ``runner`` (its cache emptied first), its outputs in ``out_dir`` (``kept``: a folder the
    user named, so messages may point into it); judge it."""
    outcome, start = Outcome(case), time.perf_counter()
    try:
        options = read_options(case)
        PATHS["input"] = os.path.abspath(options["input_dir"] or default_input_dir(case.graph))
        PATHS["output"] = out_dir
        if runner.info:
            set_io_folders(PATHS)
        prompt, workflow = load_graph(case.graph, runner.node_classes)
        prompt = apply_sets(prompt, as_sets(options["set"]), runner.node_classes)
        runner.forget()
        with devices.use_device(device):
            result = runner.run(prompt, {"workflow": workflow} if workflow else None)
        outcome.timings = {n: round(t, 6) for n, t in result.timings.items()}
        outcome.ui = result.ui
        judge(outcome, prompt, result, runner.node_classes, options["checks"], devices.device_class(device),
              update, out_dir, kept)
    except (RunInterrupted, KeyboardInterrupt):
        raise
    except Exception as e:  # this case errs; the suite goes on
        outcome.status = "error"
        outcome.messages.append(describe(e, case.graph))
    outcome.seconds = time.perf_counter() - start
    return outcome


def judge(outcome: Outcome, prompt, result, classes, checks, device_class: str, update: bool, out_dir: str,
          kept: bool):
    """The outputs against the goldens (or recorded as them, ``update``) and the checks."""
    case, outputs = outcome.case, golden.collect(prompt, result, classes)
    verdict, folder, recorded = None, None, {}
    if update:
        golden.update(case.folder, outputs, device_class)
    if has_goldens(case, device_class):
        verdict = golden.check(case.folder, outputs, os.path.join(out_dir, "golden-diff"), device_class)
        folder, recorded = verdict["dir"], golden.read_sidecar(verdict["dir"])["outputs"]
        outcome.messages += [f"golden {line}" for line in golden.summary(verdict, pictures=kept)]

    def golden_path(name):
        return os.path.join(folder, name) if name in recorded else None

    images = {name: out for name, out in outputs.items() if out.is_image}
    outcome.images = [{"name": name, "output": out.path, "golden": golden_path(name),
                       "verdict": (verdict or {}).get("outputs", {}).get(name)} for name, out in images.items()]
    outcome.images += [{"name": name, "output": None, "golden": golden_path(name), "verdict": None}
                       for name in (verdict or {}).get("missing", []) if name in recorded]
    for check in checks:
        failure = asserts.evaluate(check, result.ui, result.outputs, images, golden_path)
        if failure:
            outcome.messages.append(f"check {failure}")
    if outcome.messages:
        outcome.status = "failed"


def summary_line(outcomes: list[Outcome], seconds: float) -> str:
    """pytest's: "1 failed, 12 passed, 1 error in 3.2 s"."""
    counts = {s: sum(o.status == s for o in outcomes) for s in ("failed", "passed", "error")}
    parts = [f"{n} {s if s != 'error' or n == 1 else 'errors'}" for s, n in counts.items() if n]
    return f"{', '.join(parts)} in {seconds:.1f} s"


def run_suite(cases: list[Case], runner, output_dir: str | None, device: str, update: bool,
              stream=sys.stdout) -> list[Outcome]:
    """Every case in turn, each in its own output folder; a line per case as it ends."""
    root = os.path.abspath(output_dir) if output_dir else temp_folder("noisekit-test-")
    outcomes = []
    for i, case in enumerate(cases, 1):
        out_dir = os.path.join(root, f"{i:03}-{case.slug}")
        os.makedirs(out_dir, exist_ok=True)
        outcome = run_case(case, runner, out_dir, device, update, kept=output_dir is not None)
        outcomes.append(outcome)
        print(f"{case.name} {outcome.status.upper()} ({outcome.seconds:.1f} s)", file=stream, flush=True)
        for message in outcome.messages:
            print("    " + message.replace("\n", "\n    "), file=stream, flush=True)
    return outcomes
