"""``run_items``: the items not yet done submitted to a pool, their files committed and their manifest lines
written as they finish, a progress bar and JSON events; stopping on a signal (exits.py), the summary and its
exit code.

An item whose verdict (job.py) failed is "mismatched": it ran and its files were written, but it is not done,
so a rerun runs it again."""
from __future__ import annotations

import contextlib
import os
import sys
from collections import deque

from tqdm.auto import tqdm

from .. import exits
from ..progress import JsonLines
from ..exits import EXIT_FAILED, EXIT_GOLDEN, EXIT_OK
from .job import describe
from .local import LocalPool, usable_cores
from .manifest import Manifest
from .ray import RayPool


def run_items(items: list[dict], job, out_dir: str, workers: int | None = None, ray: str | None = None,
              device: str = "cpu", json_progress: bool = False, desc: str = "items") -> dict:
    """Run ``job`` over the items not yet done in ``out_dir`` (its manifest), on ``workers`` local processes
    or Ray actors at ``ray``, each computing with this process's torch thread count (default: as many as
    the cores (Ray: the cluster's CPUs) hold at that many threads each; one per GPU). Returns the
    summary: counts, "status" (success, mismatched, failed, interrupted) and this run's manifest records."""
    os.makedirs(out_dir, exist_ok=True)
    manifest, emit = Manifest(out_dir), (JsonLines() if json_progress else lambda event, data: None)
    try:
        pending = deque(item for item in items if not manifest.finished(item, job.hash))
        summary = {"status": "success", "total": len(items), "skipped": len(items) - len(pending), "done": 0,
                   "mismatched": 0, "failed": 0, "manifest": manifest.path, "items": []}
        emit("batch_start", {k: summary[k] for k in ("total", "skipped", "manifest")})
        # stdout carries the events alone: whatever else prints meanwhile (Ray's messages) goes to stderr
        with contextlib.redirect_stdout(sys.stderr):
            if pending:
                run_pending(pending, job, manifest, summary, emit, workers, ray, device, desc)
    finally:
        manifest.close()
    emit("batch_end", {k: v for k, v in summary.items() if k != "items"})
    report(summary)
    return summary


def run_pending(pending: deque, job, manifest: Manifest, summary: dict, emit, workers, ray, device, desc):
    import torch

    threads = torch.get_num_threads()
    if ray:  # a signal while connecting stops at once: nothing has run
        pool = RayPool(job, workers, ray, 1 if device.startswith("cuda") else 0, threads)
    else:
        count = workers or (max(1, usable_cores() // threads) if device == "cpu" else 1)
        pool = LocalPool(job, min(len(pending), count), threads)
    bar = tqdm(total=len(pending), desc=desc, unit="item", disable=None, dynamic_ncols=True)
    now = False  # a second signal: stop the items in flight now
    try:  # the first signal (exits.py): submit no more items and let the ones in flight finish
        while pool.busy() or (pending and exits.stop_signal() is None):
            while pending and pool.idle() and exits.stop_signal() is None:
                item = pending.popleft()
                emit("item_start", {"key": item["key"], "input": item["input"], "worker": pool.submit(item)})
            for item, result in pool.wait(0.5):
                record = finish(item, result, job, out_dir=os.path.dirname(manifest.path))
                manifest.append(record)
                summary[record["status"]] += 1
                summary["items"].append(record)
                bar.update(1)
                bar.set_postfix(failed=summary["failed"], refresh=False)
                emit("item_end", record)
    except KeyboardInterrupt:
        now = True
    finally:
        pool.close(kill=now)
        bar.close()
    interrupted = now or exits.stop_signal() is not None
    summary["status"] = ("interrupted" if interrupted else "failed" if summary["failed"]
                         else "mismatched" if summary["mismatched"] else "success")


def finish(item: dict, result: dict, job, out_dir: str) -> dict:
    """The manifest record of a finished item, its files committed to the output folder."""
    record = {"key": item["key"], "input": item["input"], "input_hash": item["hash"], "graph_hash": job.hash,
              "sets": item.get("sets", {}), "status": result["status"], "outputs": [],
              "seconds": round(result["seconds"], 3), "error": result["error"]}
    if result["status"] != "done":
        return record
    try:
        paths, verdict = job.commit(item, result["files"], out_dir, result["value"])
    except (OSError, ValueError) as e:
        record.update(status="failed", error=describe(e))
        return record
    record["outputs"] = [os.path.relpath(p, out_dir) for p in paths]
    if verdict is not None:
        record["verdict"] = verdict
        if verdict["status"] == "failed":
            record["status"] = "mismatched"
    return record


def report(summary: dict):
    """Failed items with their errors, mismatched ones with their verdicts, then the counts, on stderr."""
    for record in summary["items"]:
        if record["status"] in ("failed", "mismatched"):
            what = record["error" if record["status"] == "failed" else "verdict"]["message"]
            print(exits.clip(f"noisekit: {record['input']}: {what}"), file=sys.stderr)
    mismatched = f", {summary['mismatched']} mismatched" if summary["mismatched"] else ""
    done_before = f", {summary['skipped']} done before" if summary["skipped"] else ""
    stopped = " (interrupted: rerun to continue)" if summary["status"] == "interrupted" else ""
    print(f"noisekit: {summary['total']} items: {summary['done']} done{mismatched}, {summary['failed']} failed"
          f"{done_before}{stopped}; manifest {summary['manifest']}", file=sys.stderr)


def exit_code(summary: dict) -> int:
    return {"success": EXIT_OK, "mismatched": EXIT_GOLDEN, "failed": EXIT_FAILED,
            "interrupted": exits.interrupted_code()}[summary["status"]]
