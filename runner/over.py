"""``noisekit run GRAPH --over INPUTS``: one saved graph once per input, on local worker processes or
Ray actors (noisekit.batch runs the items, keeps the manifest and resumes).

INPUTS is a folder of images, each bound to the graph's LoadImage ``image`` (or to ``--set-from
NODE_ID.INPUT``), or a JSONL/CSV file whose rows are ``--set`` assignments (JSONL: an object per line,
``{"3.seed": 42}``; CSV: a header of NODE_ID.INPUT columns, cells read as ``--set`` values, an empty
cell keeps the graph's value). Item NAME writes OUTPUT_DIR/NAME/ exactly what ``noisekit run GRAPH
--set ... --output-dir OUTPUT_DIR/NAME`` writes alone: NAME is an image's file name without its
extension (with it if two images share a stem), or ``row-00001``... for rows.

With ``--golden DIR`` item NAME is judged as ``noisekit run ... --golden DIR/NAME`` judges a run alone
(runner/golden.py): its worker sends the outputs back with its files, and the goldens are compared (or with
``--update-golden`` recorded) here, where the command runs; a mismatch's pictures go to
OUTPUT_DIR/NAME/golden-diff/. The verdict is the item's manifest record's "verdict"; a mismatched item is not done
(batch/loop.py), and a done one is skipped by a rerun only while its goldens are unchanged: the item's hash
covers their content (golden.fingerprint), so no rerun skips a check that was not made against them.
"""
from __future__ import annotations

import copy
import csv
import json
import mimetypes
import os
import re
import shutil
import sys
from collections import Counter
from dataclasses import dataclass

from .. import batch, devices
from ..files import file_hash, folder_files, temp_folder, value_hash, write_new, write_numbered
from . import golden
from .comfyui import find_comfyui, set_io_folders
from .engines import make_runner
from .execute import default_node_classes
from .load import default_input_dir, load_graph
from .overrides import apply_sets, as_sets, parse_set
from .report import write_report
from .standins import PATHS, new_temp_dir

SAVED = re.compile(r"(.*)_(\d{5})_(\.[^.]+)")  # SaveImage's prefix_00001_.png


def image_files(folder: str) -> list[str]:
    """The names of the image files in ``folder`` (broken symbolic links skipped, and named once)."""
    return folder_files(folder, lambda f: (mimetypes.guess_type(f)[0] or "").startswith("image/"),
                        f"noisekit run: --over {folder}")


def bound_input(prompt: dict, set_from: str | None) -> str:
    """NODE_ID.INPUT that takes each file: --set-from, else the graph's only LoadImage's image."""
    if set_from:
        as_sets({set_from: None})
        return set_from
    loaders = sorted(n for n, node in prompt.items() if node["class_type"] == "LoadImage")
    if len(loaders) != 1:
        raise ValueError(f"--over a folder: the graph has {len(loaders)} LoadImage nodes ({', '.join(loaders)}); "
                         "name the input each image goes to with --set-from NODE_ID.INPUT")
    return f"{loaders[0]}.image"


def folder_items(folder: str, input_dir: str, target: str) -> list[dict]:
    names = image_files(folder)
    if not names:
        raise ValueError(f"--over {folder}: no image files there")
    stems = Counter(os.path.splitext(n)[0] for n in names)
    items = []
    for name in names:
        path, stem = os.path.join(folder, name), os.path.splitext(name)[0]
        items.append({"key": stem if stems[stem] == 1 else name, "input": path, "hash": file_hash(path),
                      "sets": {target: os.path.relpath(path, input_dir).replace(os.sep, "/")}})
    return items


def read_rows(path: str) -> list[dict]:
    """The rows of a JSONL or CSV file as {NODE_ID.INPUT: value}."""
    with open(path, encoding="utf-8", newline="") as f:
        if path.lower().endswith(".csv"):
            return [{f"{node_id}.{name}": value for node_id, name, value
                     in parse_set([f"{column}={cell}" for column, cell in row.items() if cell])}
                    for row in csv.DictReader(f)]
        rows = []
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"--over {path}, line {number}: not JSON ({e})") from None
                if not isinstance(rows[-1], dict):
                    raise ValueError(f"--over {path}, line {number}: expected an object like {{\"3.seed\": 42}}")
        return rows


def row_items(path: str) -> list[dict]:
    rows = read_rows(path)
    if not rows:
        raise ValueError(f"--over {path}: no rows")
    return [{"key": f"row-{i:05}", "input": f"{path} row {i}", "hash": value_hash(row), "sets": row}
            for i, row in enumerate(rows, 1)]


def save_new(path: str, data: bytes) -> str:
    """Write ``data`` at ``path``; a SaveImage name that is taken gets the next free counter instead."""
    directory, name = os.path.split(path)
    os.makedirs(directory, exist_ok=True)
    saved = SAVED.fullmatch(name)
    if saved is None:
        return write_new(path, lambda f: f.write(data))
    stem, counter, ext = saved.groups()
    return write_numbered(directory, lambda n: f"{stem}_{n:05}_{ext}", int(counter), lambda f: f.write(data))[0]


@dataclass
class GraphJob:
    """The graph (its --set values applied) and where it runs; an item adds its own --set values. ``comfyui``:
    the ComfyUI checkout each worker loads once (None: noisekit's runner and its stand-ins). ``golden``: the
    folder of every item's goldens (--golden), compared with, or recorded when ``update_golden``, as
    ``device_class``'s."""
    prompt: dict
    workflow: dict | None
    input_dir: str
    device: str
    comfyui: str | None = None
    models_dir: str | None = None
    custom_nodes: tuple = ()
    golden: str | None = None
    update_golden: bool = False
    device_class: str = "cpu"

    @property
    def hash(self) -> str:
        return value_hash(self.prompt)

    def start(self):
        """In each worker: one engine (ComfyUI loaded once), whose cache keeps the model loaded between items."""
        PATHS["input"] = self.input_dir
        runner = make_runner(self.comfyui, self.device, self.models_dir, self.custom_nodes)
        extra = {"workflow": self.workflow} if self.workflow else None

        def work(item, folder):
            PATHS["output"] = folder
            if runner.info:
                set_io_folders(PATHS)
            prompt = apply_sets(copy.deepcopy(self.prompt), as_sets(item["sets"]), runner.node_classes)
            with devices.use_device(self.device):
                result = runner.run(prompt, extra)
            # previews are in the worker's own temp folder: every output travels as bytes, as the files do
            return golden.to_bytes(golden.collect(prompt, result, runner.node_classes)) if self.golden else None
        return work

    def commit(self, item, files, out_dir, sent):
        """The item's files, saved after its verdict (a check that cannot be made saves nothing)."""
        verdict = self.judge(item, sent, os.path.join(out_dir, item["key"])) if self.golden else None
        return [save_new(os.path.join(out_dir, item["key"], name), data) for name, data in sorted(files.items())], \
            verdict

    def judge(self, item, sent: dict, item_dir: str) -> dict:
        """The outputs the worker sent (golden.to_bytes) compared with the goldens in DIR/NAME/ (pictures of a
        mismatch in the item's golden-diff/), or recorded there: golden.check's or golden.update's report, with a
        failed check's message."""
        goldens, scratch = os.path.join(self.golden, item["key"]), temp_folder("noisekit-golden-")
        try:
            outputs = golden.from_bytes(sent, scratch)
            if self.update_golden:
                return golden.update(goldens, outputs, self.device_class)
            verdict = golden.check(goldens, outputs, os.path.join(item_dir, "golden-diff"), self.device_class)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return {**verdict, "message": golden.mismatch_message(verdict)} if verdict["status"] == "failed" else verdict


def hash_with_goldens(items: list[dict], job: GraphJob):
    """With --golden, an item's hash covers what judges it: a rerun skips a done item only when its goldens are
    those that passed it (golden.fingerprint), or with --update-golden when they were recorded for this class."""
    for item in items:
        judge = ["update", job.device_class] if job.update_golden else \
            ["check", golden.fingerprint(os.path.join(job.golden, item["key"]), job.device_class)]
        item["hash"] = value_hash([item["hash"], judge])


def items_and_input_dir(args, prompt: dict) -> tuple[list[dict], str]:
    """The items of --over and the input directory their graph reads from."""
    over = os.path.abspath(args.over)
    if os.path.isdir(over):
        input_dir = os.path.abspath(args.input_dir or over)
        if os.path.commonpath([input_dir, over]) != input_dir:
            raise ValueError(f"--over {args.over} must be inside --input-dir {args.input_dir} (LoadImage reads "
                             "nothing outside its input directory)")
        return folder_items(over, input_dir, bound_input(prompt, args.set_from)), input_dir
    if not over.lower().endswith((".jsonl", ".csv")) or not os.path.isfile(over):
        raise ValueError(f"--over {args.over}: expected a folder of images or a .jsonl/.csv file of --set rows")
    return row_items(over), os.path.abspath(args.input_dir or default_input_dir(args.graph))


def cmd_run_over(args) -> int:
    """``noisekit run GRAPH --over INPUTS``: exit 0 all done (with --golden: every input matches), 2 bad arguments,
    3 an item failed (its goldens missing too), 4 none failed but an item's outputs differ from its goldens,
    130/143 interrupted (the --report path was checked by the caller)."""
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    devices.check_device(args.device)
    comfyui = find_comfyui(args.comfyui)
    new_temp_dir()  # ComfyUI's temp folder, set as it loads
    # the graph is read with the node classes its workers will have (a UI workflow's widgets are named by them)
    classes = make_runner(comfyui, args.device, args.models_dir, args.custom_nodes).node_classes if comfyui \
        else default_node_classes()
    prompt, workflow = load_graph(args.graph, classes)
    prompt = apply_sets(prompt, parse_set(args.set), classes)
    items, input_dir = items_and_input_dir(args, prompt)
    if os.path.isdir(args.over):  # every image goes to the same input: check once that it exists
        apply_sets(copy.deepcopy(prompt), as_sets(items[0]["sets"]), classes)
    job = GraphJob(prompt, workflow, input_dir, args.device, comfyui, args.models_dir, tuple(args.custom_nodes))
    if args.golden:
        job.golden, job.update_golden = args.golden, args.update_golden
        job.device_class = devices.device_class(args.device)
        hash_with_goldens(items, job)
    summary = batch.run_items(items, job,
                              os.path.abspath(args.output_dir), args.workers, args.ray, args.device,
                              args.json_progress, desc=os.path.basename(args.graph))
    if args.update_golden:
        recorded = sum(r.get("verdict", {}).get("status") == "updated" for r in summary["items"])
        print(f"noisekit run: recorded the goldens of {recorded} input(s) in {os.path.join(args.golden, 'NAME')}",
              file=sys.stderr)
    if args.report:
        write_report(args.report, {"graph": args.graph, **summary})
    return batch.exit_code(summary)
