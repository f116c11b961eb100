"""Per-step progress and interruption for long loops, without importing the runner.

Long work calls ``bar(total, desc)`` and ``.update(n)``, or hands the core functions
``tracker(desc)`` (a progress(done, total) callback) or ``step_callback(total)`` (a
k-diffusion sampler callback). Whoever runs the work decides where updates go:
the graph runner installs a reporter with ``set_reporter`` (ComfyUI-shaped ``progress``
events); inside ComfyUI nodes/adapter.py installs ComfyUI's own ProgressBar with
``set_bar``; otherwise a tqdm bar with an ETA is drawn on a terminal and stays there when
the work is done. Off a terminal (a log, a pipe) library calls draw nothing; the ``noisekit``
command installs ``line_reporter``, one plain line now and then. ``interrupt()`` asks for a
stop, and so does a SIGINT or SIGTERM to a ``noisekit`` command (exits.py): the next ``update``
(or ``check_interrupt``) raises ``Interrupted``, so work stops between steps, as ComfyUI's
ProgressBar hook does with its interrupt flag.
"""
from __future__ import annotations

import contextlib
import json
import sys
import time

from tqdm.auto import tqdm

from . import exits


class Interrupted(Exception):
    """Raised at the next progress update or check after ``interrupt()`` or a stop signal."""

    @property
    def exit_code(self) -> int:
        return exits.interrupted_code()


_state = {"reporter": None, "interrupted": False, "bar": None}


def set_reporter(reporter):
    """reporter(info) gets {"value", "max", "desc", "elapsed"} on every update (elapsed: seconds since
    the bar was made); None restores tqdm. Returns the old one."""
    old, _state["reporter"] = _state["reporter"], reporter
    return old


def interrupt():
    _state["interrupted"] = True


def clear_interrupt():
    _state["interrupted"] = False


def interrupt_requested() -> bool:
    """``interrupt()`` was called (the flag ends with its run), or a signal asked the command to stop."""
    return _state["interrupted"] or exits.stop_signal() is not None


def check_interrupt():
    if interrupt_requested():
        raise Interrupted("interrupted by the user")


class ProgressBar:
    """Counts steps towards ``total``; forwards each update to the reporter or to tqdm."""

    def __init__(self, total: int, desc: str = ""):
        self.total, self.desc, self.value, self.start = int(total), desc, 0, time.monotonic()
        self.reporter = _state["reporter"]
        # disable=None: tqdm draws only when stderr is a terminal; leave=True keeps the finished bar there
        self.bar = None if self.reporter else tqdm(total=self.total, desc=desc, leave=True, disable=None)

    def update(self, n: int = 1):
        check_interrupt()
        if n == 0:
            return
        self.value += n
        if self.bar is not None:
            self.bar.update(n)
            if self.value >= self.total:
                self.bar.close()
        else:
            self.reporter({"value": self.value, "max": self.total, "desc": self.desc,
                           "elapsed": time.monotonic() - self.start})

    def close(self):
        if self.bar is not None:
            self.bar.close()


def line_reporter(every: float = 10.0, stream=None):
    """A reporter for logs: one line such as "denoise: 12/30 (40%), 8 s, about 12 s left" per bar at
    most every ``every`` seconds, and, if it printed any, one when the bar completes."""
    last = {}  # (desc, max) -> when that bar last printed

    def report(info):
        key, value, total, elapsed = (info["desc"], info["max"]), info["value"], info["max"], info["elapsed"]
        since = last.get(key)
        if since is not None and since > elapsed:  # a new bar with the same name
            since = None
        due = elapsed - (since or 0.0) >= every
        if not due and not (value >= total and since is not None):  # work shorter than ``every`` says nothing
            return
        left = f", about {elapsed * (total - value) / value:.0f} s left" if 0 < value < total else ""
        print(f"{info['desc'] or 'progress'}: {value}/{total} ({100 * value / max(total, 1):.0f}%), "
              f"{elapsed:.0f} s{left}", file=stream or sys.stderr, flush=True)
        last[key] = elapsed

    return report


@contextlib.contextmanager
def lines_off_terminal(every: float = 10.0):
    """Within: progress as ``line_reporter`` lines when stderr is not a terminal (where tqdm draws nothing)."""
    if sys.stderr.isatty():
        yield
        return
    old = set_reporter(line_reporter(every))
    try:
        yield
    finally:
        set_reporter(old)


def set_bar(make):
    """make(total) -> an object with .update(n) used by ``bar`` instead of ProgressBar (None restores it)."""
    _state["bar"] = make


def bar(total: int, desc: str = ""):
    """A bar counting to ``total``; each .update(n) also raises a pending interrupt."""
    return _state["bar"](total) if _state["bar"] else ProgressBar(total, desc)


def tracker(desc: str):
    """A progress(done, total) callback for the core photo functions: a bar made at the first call."""
    state = {"bar": None, "done": 0}

    def report(done: int, total: int):
        if state["bar"] is None:
            state["bar"] = bar(total, desc)
        state["bar"].update(max(0, done - state["done"]))  # update(0) still checks for an interrupt
        state["done"] = max(done, state["done"])

    return report


def step_callback(total: int, desc: str = "sampling"):
    """A k-diffusion callback advancing a bar once per step, capped at ``total`` (RePaint revisits
    steps), and raising a pending interrupt at every step."""
    return lambda info, report=tracker(desc): report(min(info["i"] + 1, total), total)


class JsonLines:
    """An event callback (``--json-progress``) printing one JSON line per event, ``{"type", "data"}``, as ComfyUI's
    websocket sends them; ``default`` describes what JSON cannot hold (tensors in a node's ui)."""

    def __init__(self, stream=None, default=repr):
        self.stream, self.default = stream or sys.stdout, default

    def __call__(self, event: str, data: dict):
        self.stream.write(json.dumps({"type": event, "data": data}, default=self.default) + "\n")
        self.stream.flush()
