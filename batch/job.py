"""What a job and an item are, and how a worker runs one item.

A *job* is a picklable object with
  ``hash``                what besides an item decides its outputs (the graph, the command's settings);
  ``start()``             called once in each worker: loads what the work needs (models) and returns
                          ``work(item, folder)``, which writes the item's output files into ``folder`` and
                          returns a value for ``commit`` (picklable; None when there is nothing to send);
  ``commit(item, files, out_dir, value)``  called in the submitting process: writes ``{relative path: bytes}``
                          into ``out_dir`` without replacing any file; returns the paths written and the item's
                          verdict: None, or a JSON object whose "status" "failed" says the item ran but its
                          outputs are not what was expected (its "message" says how), any other status that
                          they are.
An *item* is a dict with "key" (unique; names its outputs), "input" (shown), "hash" (its content) and
"sets" (the values it gives the job), plus whatever ``work`` needs.

A worker makes an item's files in a private folder and sends them back as bytes, so they land in the
submitting process's output folder whichever machine ran the item, and a worker killed mid-item leaves
nothing there.
"""
from __future__ import annotations

import os
import shutil
import time

from .. import progress


class BatchError(ValueError):
    """The job cannot start (bad inputs, a locked output folder); nothing ran."""


def describe(error: BaseException) -> dict:
    """An error as the manifest keeps it; errors that name a node (NodeFailed) keep its id, type and input."""
    details = error.to_dict() if callable(getattr(error, "to_dict", None)) else {"type": type(error).__name__}
    return {**details, "message": str(error)}


def attempt(work, item: dict, folder: str) -> dict:
    """Run one item in an empty folder: its files as {relative path: bytes} and the value ``work`` returned, or
    its error (the item fails, not the job)."""
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    start, value = time.perf_counter(), None
    try:
        value = work(item, folder)
        files = {}
        for directory, _, names in os.walk(folder):
            for name in names:
                with open(os.path.join(directory, name), "rb") as f:
                    files[os.path.relpath(os.path.join(directory, name), folder)] = f.read()
        status, error = "done", None
    except Exception as e:
        status, error, files = "failed", describe(e), {}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"status": status, "files": files, "value": value, "error": error,
            "seconds": time.perf_counter() - start}


def start_quietly(job, threads: int):
    """job.start() in a worker computing with ``threads`` torch threads, as the submitting process does: a
    convolution's last bit can depend on the thread count (oneDNN picks its kernel by it), so a worker
    gives an item the very bits ``noisekit run`` gives it alone. Per-step bars are silenced (the
    submitter draws one bar for the job). If the start fails, every item fails with its error, instead
    of the worker dying and restarting."""
    import torch

    torch.set_num_threads(threads)
    progress.set_reporter(lambda info: None)
    try:
        return job.start()
    except Exception as e:
        failure = e

        def work(item, folder):
            raise failure
        return work


def worker_died(why: str) -> dict:
    """The result of an item whose worker died under it."""
    return {"status": "failed", "files": {}, "value": None, "seconds": 0.0, "error": {"type": "WorkerDied", "message": why}}
