"""Progress bars and interruption outside ComfyUI.

Long loops call ``progress_bar(total, desc)`` and ``.update(n)``. By default this
is tqdm; the runner installs a reporter (JSON events, its own bars) with
``set_reporter`` and asks for a stop with ``interrupt()``; the next update then
raises ``Interrupted``, so work stops between steps.
"""
from __future__ import annotations

from tqdm.auto import tqdm


class Interrupted(Exception):
    """Raised at the next progress update after ``interrupt()``."""


_state = {"reporter": None, "interrupted": False}


def set_reporter(reporter):
    """reporter(event: dict) receives {"value", "max", "desc"} on every update (None: tqdm)."""
    _state["reporter"] = reporter


def interrupt():
    _state["interrupted"] = True


def clear_interrupt():
    _state["interrupted"] = False


def check_interrupt():
    if _state["interrupted"]:
        raise Interrupted("interrupted by the user")


class ProgressBar:
    def __init__(self, total: int, desc: str = ""):
        self.total, self.desc, self.value = int(total), desc, 0
        self.bar = None if _state["reporter"] else tqdm(total=self.total, desc=desc, leave=False)

    def update(self, n: int = 1):
        check_interrupt()
        self.value += n
        if self.bar is not None:
            self.bar.update(n)
        else:
            _state["reporter"]({"value": self.value, "max": self.total, "desc": self.desc})

    def close(self):
        if self.bar is not None:
            self.bar.close()


def progress_bar(total: int, desc: str = "") -> ProgressBar:
    return ProgressBar(total, desc)
