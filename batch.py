"""One piece of work over many items, in worker processes here or Ray actors anywhere, resumably.

This module knows nothing of graphs or photos (runner/batch.py and photo/batch.py say what an item
is). A *job* is a picklable object with
  ``hash``                what besides an item decides its outputs (the graph, the command's settings);
  ``start()``             called once in each worker: loads what the work needs (models) and returns
                          ``work(item, folder)``, which writes the item's output files into ``folder``;
  ``commit(item, files, out_dir)``  called in the submitting process: writes ``{relative path: bytes}``
                          into ``out_dir`` without replacing any file, returns the paths written.
An *item* is a dict with "key" (unique; names its outputs), "input" (shown), "hash" (its content) and
"sets" (the values it gives the job), plus whatever ``work`` needs.

A worker makes an item's files in a private folder and sends them back as bytes, so they land in the
submitting process's output folder whichever machine ran the item, and a worker killed mid-item leaves
nothing there. Only the submitting process writes the outputs and the manifest
(``noisekit-manifest.jsonl`` in the output folder, one line per finished item, written after its
files): a rerun skips the items whose last line says done with the same input hash and job hash, and
retries the others.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass

from tqdm.auto import tqdm

from . import progress
from .exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK

MANIFEST = "noisekit-manifest.jsonl"


class BatchError(ValueError):
    """The job cannot start (bad inputs, a locked output folder); nothing ran."""


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class Manifest:
    """The output folder's record of finished items. One job at a time appends to it (a file lock)."""

    def __init__(self, out_dir: str):
        self.path = os.path.join(out_dir, MANIFEST)
        self.file = open(self.path, "a+", encoding="utf-8")
        try:
            import fcntl

            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # no advisory locks on this system
            pass
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EACCES):
                self.file.close()
                raise BatchError(f"{out_dir}: another noisekit job is writing there (its manifest is locked); "
                                 "wait for it to finish or choose another output folder") from None
            # a file system without locks (some network mounts): one job at a time is up to the user
        self.file.seek(0)
        text = self.file.read()
        self.last = {}  # key -> the item's latest record
        for line in text.splitlines():
            with contextlib.suppress(ValueError):  # a line cut short when the submitting process was killed
                record = json.loads(line)
                self.last[record["key"]] = record
        if text and not text.endswith("\n"):
            self.file.write("\n")

    def finished(self, item: dict, job_hash: str) -> bool:
        record = self.last.get(item["key"])
        return bool(record) and record["status"] == "done" and record["input_hash"] == item["hash"] \
            and record["graph_hash"] == job_hash

    def append(self, record: dict):
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        os.fsync(self.file.fileno())
        self.last[record["key"]] = record

    def close(self):
        self.file.close()  # releases the lock


def describe(error: BaseException) -> dict:
    """An error as the manifest keeps it; errors that name a node (NodeFailed) keep its id, type and input."""
    details = error.to_dict() if callable(getattr(error, "to_dict", None)) else {"type": type(error).__name__}
    return {**details, "message": str(error)}


def attempt(work, item: dict, folder: str) -> dict:
    """Run one item in an empty folder: its files as {relative path: bytes}, or its error (the item
    fails, not the job)."""
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    start = time.perf_counter()
    try:
        work(item, folder)
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
    return {"status": status, "files": files, "error": error, "seconds": time.perf_counter() - start}


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


def serve(conn, job, root: str, threads: int):
    """A local worker process: start the job once, then run the items the pipe brings until it closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the submitting process's to handle
    work = start_quietly(job, threads)
    while True:
        try:
            item = conn.recv()
        except EOFError:
            return
        if item is None:
            return
        conn.send(attempt(work, item, os.path.join(root, "item")))


@contextlib.contextmanager
def sigint_ignored():
    """A child started inside inherits SIGINT ignored (spawned, or the fork server when it starts)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def died(why: str) -> dict:
    return {"status": "failed", "files": {}, "seconds": 0.0, "error": {"type": "WorkerDied", "message": why}}


@dataclass
class Slot:
    process: object
    conn: object
    root: str
    item: dict | None = None


class LocalPool:
    """N worker processes on this machine, each one item at a time. Not forked from the submitting
    process (no torch state shared with it): forked from a fresh server process that has
    imported the job's module once (forkserver), or spawned where there is none."""

    def __init__(self, job, workers: int, threads: int):
        import multiprocessing

        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        self.context = multiprocessing.get_context(method)
        self.context.set_forkserver_preload([type(job).__module__])
        self.job, self.threads = job, threads
        self.slots = [self.start() for _ in range(workers)]

    def start(self) -> Slot:
        conn, child = self.context.Pipe()
        root = tempfile.mkdtemp(prefix="noisekit-batch-")
        process = self.context.Process(target=serve, args=(child, self.job, root, self.threads), daemon=True)
        with sigint_ignored():
            process.start()
        child.close()
        return Slot(process, conn, root)

    def stop(self, slot: Slot, kill: bool):
        if kill:
            slot.process.kill()
        else:
            with contextlib.suppress(OSError):
                slot.conn.send(None)
        slot.process.join(10)
        if slot.process.is_alive():
            slot.process.kill()
            slot.process.join()
        slot.conn.close()
        shutil.rmtree(slot.root, ignore_errors=True)  # what a killed worker was making

    def replace(self, slot: Slot):
        self.stop(slot, kill=True)
        self.slots[self.slots.index(slot)] = self.start()

    def idle(self) -> bool:
        return any(s.item is None for s in self.slots)

    def busy(self) -> bool:
        return any(s.item is not None for s in self.slots)

    def submit(self, item: dict) -> int:
        slot = next(s for s in self.slots if s.item is None)
        if not slot.process.is_alive():  # died after its last item
            self.replace(slot)
            slot = next(s for s in self.slots if s.item is None)
        slot.conn.send(item)
        slot.item = item
        return slot.process.pid

    def wait(self, timeout: float) -> list[tuple[dict, dict]]:
        from multiprocessing.connection import wait

        busy = [s for s in self.slots if s.item is not None]
        wait([s.conn for s in busy] + [s.process.sentinel for s in busy], timeout)
        finished = []
        for slot in busy:
            result = None
            if slot.conn.poll():
                with contextlib.suppress(EOFError, OSError):
                    result = slot.conn.recv()
            elif slot.process.is_alive():
                continue
            if result is None:  # it died mid-item: the item fails, a fresh worker takes its place
                slot.process.join(5)
                code = slot.process.exitcode
                result = died(f"the worker process (pid {slot.process.pid}) died ("
                              + (f"killed by signal {-code})" if code and code < 0 else f"exit code {code})"))
                self.replace(slot)
            finished.append((slot.item, result))
            slot.item = None
        return finished

    def close(self, kill: bool = False):
        for slot in self.slots:
            self.stop(slot, kill)


class RayWorker:
    """A Ray actor: the job started once (one model load), then items one at a time. It works in the
    submitter's folder when its machine has one (relative paths in a graph mean the same there)."""

    def __init__(self, job, cwd: str, threads: int):
        if os.path.isdir(cwd):
            os.chdir(cwd)
        self.work = start_quietly(job, threads)

    def pid(self) -> int:
        return os.getpid()

    def run(self, item: dict) -> dict:
        return attempt(self.work, item, tempfile.mkdtemp(prefix="noisekit-batch-"))  # removed when done


class RayPool:
    """The same work as Ray actors on a cluster (``address``: host:port, "auto", or "local" to start one
    on this machine, listening on 127.0.0.1 only); a GPU per actor when ``gpus``. Ray is optional."""

    def __init__(self, job, workers: int | None, address: str, gpus: int, threads: int):
        if address == "local":
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # bind 127.0.0.1, not the LAN
        try:
            import ray
        except ImportError:
            raise BatchError("--ray needs Ray: pip install 'noisekit[ray]'") from None
        self.ray, self.started = ray, not ray.is_initialized()
        if self.started:
            try:
                ray.init(**({"include_dashboard": False} if address == "local" else {"address": address}))
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise BatchError(f"--ray {address}: no Ray cluster there ({e}); start one with `ray start --head` "
                                 "or use --ray local") from None
        kind = "GPU" if gpus else "CPU"
        room = int(ray.cluster_resources().get(kind, 0))  # an actor asks for one
        if room < 1:
            raise BatchError(f"--ray {address}: the cluster has no {kind}s")
        workers = min(workers or max(1, room // (1 if gpus else threads)), room)
        actor = ray.remote(num_cpus=1, num_gpus=gpus, max_restarts=-1)(RayWorker)
        self.actors = [actor.remote(job, os.getcwd(), threads) for _ in range(workers)]
        self.pids = ray.get([a.pid.remote() for a in self.actors])
        self.running = {}  # object ref -> (actor index, item)

    def idle(self) -> bool:
        return len(self.running) < len(self.actors)

    def busy(self) -> bool:
        return bool(self.running)

    def submit(self, item: dict) -> int:
        index = next(i for i in range(len(self.actors)) if i not in {a for a, _ in self.running.values()})
        self.running[self.actors[index].run.remote(item)] = (index, item)
        return self.pids[index]

    def wait(self, timeout: float) -> list[tuple[dict, dict]]:
        ray = self.ray
        ready, rest = ray.wait(list(self.running), num_returns=1, timeout=timeout)
        if rest and ready:
            ready += ray.wait(rest, num_returns=len(rest), timeout=0)[0]
        finished = []
        for ref in ready:
            index, item = self.running.pop(ref)
            try:
                finished.append((item, ray.get(ref)))
            except ray.exceptions.RayError as e:  # the actor died (Ray restarts it)
                finished.append((item, died(f"the Ray worker (pid {self.pids[index]}) died: {type(e).__name__}")))
                with contextlib.suppress(ray.exceptions.RayError):
                    self.pids[index] = ray.get(self.actors[index].pid.remote())
        return finished

    def close(self, kill: bool = False):
        for actor in self.actors:
            self.ray.kill(actor)
        if self.started:
            self.ray.shutdown()


@contextlib.contextmanager
def ctrl_c_stops(state: dict):
    """First Ctrl-C: submit no more items and let the ones in flight finish; a second: stop them now.
    The handler only counts, so a file or a manifest line being written is never cut short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        state["ctrl_c"] += 1
        print("\nnoisekit: " + ("stopping the items in flight" if state["ctrl_c"] > 1 else
                                "finishing the items in flight (Ctrl-C again to stop them now)"), file=sys.stderr)

    old = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def emitter(stream):
    """on_event for the job: a JSON line per event on ``stream`` (None: no events)."""
    def emit(event: str, data: dict):
        if stream is not None:
            stream.write(json.dumps({"type": event, "data": data}) + "\n")
            stream.flush()
    return emit


def run_items(items: list[dict], job, out_dir: str, workers: int | None = None, ray: str | None = None,
              device: str = "cpu", json_progress: bool = False, desc: str = "items") -> dict:
    """Run ``job`` over the items not yet done in ``out_dir`` (its manifest), on ``workers`` local processes
    or Ray actors at ``ray``, each computing with this process's torch thread count (default: as many as
    the cores (Ray: the cluster's CPUs) hold at that many threads each; one per GPU). Returns the
    summary: counts, "status" (success, failed, interrupted) and this run's manifest records."""
    os.makedirs(out_dir, exist_ok=True)
    manifest, emit = Manifest(out_dir), emitter(sys.stdout if json_progress else None)
    try:
        pending = deque(item for item in items if not manifest.finished(item, job.hash))
        summary = {"status": "success", "total": len(items), "skipped": len(items) - len(pending), "done": 0,
                   "failed": 0, "manifest": manifest.path, "items": []}
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

    threads, state = torch.get_num_threads(), {"ctrl_c": 0}
    if ray:  # a Ctrl-C while connecting stops at once: nothing has run
        pool = RayPool(job, workers, ray, 1 if device.startswith("cuda") else 0, threads)
    else:
        count = workers or (max(1, usable_cores() // threads) if device == "cpu" else 1)
        pool = LocalPool(job, min(len(pending), count), threads)
    bar = tqdm(total=len(pending), desc=desc, unit="item", disable=None, dynamic_ncols=True)
    with ctrl_c_stops(state):
        try:
            while state["ctrl_c"] < 2 and (pool.busy() or (pending and not state["ctrl_c"])):
                while pending and pool.idle() and not state["ctrl_c"]:
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
        finally:
            pool.close(kill=state["ctrl_c"] > 1)
            bar.close()
    summary["status"] = "interrupted" if state["ctrl_c"] else "failed" if summary["failed"] else "success"


def finish(item: dict, result: dict, job, out_dir: str) -> dict:
    """The manifest record of a finished item, its files committed to the output folder."""
    record = {"key": item["key"], "input": item["input"], "input_hash": item["hash"], "graph_hash": job.hash,
              "sets": item.get("sets", {}), "status": result["status"], "outputs": [],
              "seconds": round(result["seconds"], 3), "error": result["error"]}
    if result["status"] == "done":
        try:
            record["outputs"] = [os.path.relpath(p, out_dir) for p in job.commit(item, result["files"], out_dir)]
        except (OSError, ValueError) as e:
            record.update(status="failed", error=describe(e))
    return record


def report(summary: dict):
    """Failed items with their errors, then the counts, on stderr."""
    for record in summary["items"]:
        if record["status"] == "failed":
            print(f"noisekit: {record['input']}: {record['error']['message']}", file=sys.stderr)
    done_before = f", {summary['skipped']} done before" if summary["skipped"] else ""
    stopped = " (interrupted: rerun to continue)" if summary["status"] == "interrupted" else ""
    print(f"noisekit: {summary['total']} items: {summary['done']} done, {summary['failed']} failed{done_before}"
          f"{stopped}; manifest {summary['manifest']}", file=sys.stderr)


def exit_code(summary: dict) -> int:
    return {"success": EXIT_OK, "failed": EXIT_FAILED, "interrupted": EXIT_INTERRUPTED}[summary["status"]]


def add_arguments(parser, json_progress: bool = True):
    """The options every many-inputs command takes."""
    parser.add_argument("--workers", type=int, metavar="N",
                        help="worker processes (Ray: actors), each computing with torch's threads as a lone "
                             "run does (set OMP_NUM_THREADS to change both); default: as many as the cores "
                             "(Ray: the cluster's CPUs) hold, one for a GPU (Ray: one per GPU)")
    parser.add_argument("--ray", metavar="ADDRESS", help="run on a Ray cluster: host:port, auto, or local "
                                                         "(start one here); needs pip install 'noisekit[ray]'")
    if json_progress:
        parser.add_argument("--json-progress", action="store_true",
                            help="print an event per item as JSON lines on stdout")
