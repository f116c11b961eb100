"""Per-step progress and interruption for long loops, without importing the runner.

Nodes and CLIs call ``progress_bar(total, desc)`` and ``.update(n)``. Whoever runs
the work installs a reporter with ``set_reporter`` (the graph runner turns updates
into ComfyUI-shaped ``progress`` events); without one a tqdm bar is drawn on a
terminal. ``interrupt()`` asks for a stop: the next ``update`` (or
``check_interrupt``) raises ``Interrupted``, so work stops between steps, as
ComfyUI's ProgressBar hook does with its interrupt flag.
"""
from __future__ import annotations

from tqdm.auto import tqdm


class Interrupted(Exception):
    """Raised at the next progress update or check after ``interrupt()``."""


_state = {"reporter": None, "interrupted": False}


def set_reporter(reporter):
    """reporter(info) gets {"value", "max", "desc"} on every update; None restores tqdm. Returns the old one."""
    old, _state["reporter"] = _state["reporter"], reporter
    return old


def interrupt():
    _state["interrupted"] = True


def clear_interrupt():
    _state["interrupted"] = False


def interrupt_requested() -> bool:
    return _state["interrupted"]


def check_interrupt():
    if _state["interrupted"]:
        raise Interrupted("interrupted by the user")


class ProgressBar:
    """Counts steps towards ``total``; forwards each update to the reporter or to tqdm."""

    def __init__(self, total: int, desc: str = ""):
        self.total, self.desc, self.value = int(total), desc, 0
        self.reporter = _state["reporter"]
        # disable=None: tqdm draws only when stderr is a terminal
        self.bar = None if self.reporter else tqdm(total=self.total, desc=desc, leave=False, disable=None)

    def update(self, n: int = 1):
        check_interrupt()
        self.value += n
        if self.bar is not None:
            self.bar.update(n)
            if self.value >= self.total:
                self.bar.close()
        else:
            self.reporter({"value": self.value, "max": self.total, "desc": self.desc})

    def close(self):
        if self.bar is not None:
            self.bar.close()


def progress_bar(total: int, desc: str = "") -> ProgressBar:
    return ProgressBar(total, desc)
