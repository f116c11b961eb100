"""Worker processes on this machine, each one item at a time."""
from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass

from .. import exits
from ..files import temp_folder
from .job import attempt, start_quietly, worker_died


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def serve(conn, job, root: str, threads: int):
    """A local worker process: start the job once, then run the items the pipe brings until it closes (or the
    submitting process is gone: a closed pipe ends the worker quietly)."""
    exits.ignore_signals()  # SIGINT and SIGTERM are the submitting process's to handle: it stops the workers
    work = start_quietly(job, threads)
    with contextlib.suppress(EOFError, OSError):  # BrokenPipeError, ConnectionResetError: the submitter is gone
        for item in iter(conn.recv, None):
            conn.send(attempt(work, item, os.path.join(root, "item")))


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
        root = temp_folder("noisekit-batch-")  # inside the command's scratch folder
        process = self.context.Process(target=serve, args=(child, self.job, root, self.threads), daemon=True)
        with exits.signals_ignored():  # the fork server too, when this starts it
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
                result = worker_died(f"the worker process (pid {slot.process.pid}) died ("
                              + (f"killed by signal {-code})" if code and code < 0 else f"exit code {code})"))
                self.replace(slot)
            finished.append((slot.item, result))
            slot.item = None
        return finished

    def close(self, kill: bool = False):
        for slot in self.slots:
            self.stop(slot, kill)
