"""How every ``noisekit`` command ends, in one place: its exit codes (each command's --help says what they mean
there), the exit code of whatever stopped it (``code_for``), the one signal policy, and the length of what it says.

Signals: the first SIGINT (Ctrl-C) or SIGTERM asks the command to stop at the next step or item (``stop_signal``
says which came; ``progress.check_interrupt`` raises there); the command cleans up, writes its report and exits
130 (SIGINT) or 143 (SIGTERM). A second one stops it at once (``Stopped``) with the same code; once the
command is ending (``StopOnSignals.hold``) more signals are ignored.
"""
from __future__ import annotations

import contextlib
import os
import re
import signal
import threading

EXIT_OK = 0
EXIT_TESTS_FAILED = 1  # test: a case failed or erred (pytest's code, what CI systems expect)
EXIT_INVALID = 2  # bad input or arguments: nothing ran
EXIT_FAILED = 3  # failed while running: a node, or an item of a batch
EXIT_GOLDEN = 4  # run --golden: an output differs from its golden beyond the tolerance (--over: an input's)
EXIT_MODELS_MISSING = 5  # check: the graphs are valid but model files they load are missing
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT): 128 + the signal's number, as a shell reports it
EXIT_TERMINATED = 143  # SIGTERM

SUMMARY = ("Exit codes: 0 success, 1 a test case failed (test), 2 bad input or arguments, 3 failed while running, "
           "4 outputs differ from the goldens (run --golden), 5 model files missing (check), 130 interrupted "
           "(Ctrl-C), 143 terminated (SIGTERM); each command's --help says what they mean there.")
SIGNALS = (signal.SIGINT, signal.SIGTERM)
CLIP = 300  # characters of one word of a message (a path, a value the user gave) shown at most

_stop = {"signal": None}


def stop_signal() -> int | None:
    """The signal that asked this command to stop, or None."""
    return _stop["signal"]


def interrupted_code() -> int:
    """130 after SIGINT (or a KeyboardInterrupt of no signal), 143 after SIGTERM."""
    return 128 + (_stop["signal"] or signal.SIGINT)


class Stopped(KeyboardInterrupt):
    """A second signal: stop now."""

    @property
    def exit_code(self) -> int:
        return interrupted_code()


class StopOnSignals:
    """The signal policy while a command runs (installed by the ``noisekit`` command in its main thread)."""

    def __init__(self, name: str):
        self.name, self.count, self.old = name, 0, {}

    def install(self):
        _stop["signal"] = None
        if threading.current_thread() is threading.main_thread():
            self.old = {s: signal.signal(s, self.handle) for s in SIGNALS}
        return self

    def handle(self, signum, frame):
        self.count += 1
        if self.count > 2:
            return
        if self.count == 1:
            _stop["signal"] = signum
        what = "stopping now" if self.count == 2 else "stopping at the next step or item (again to stop now)"
        with contextlib.suppress(OSError):  # os.write, not print: the main thread may be writing to sys.stderr
            os.write(2, f"\n{self.name}: {signal.Signals(signum).name}: {what}\n".encode())
        if self.count == 2:
            raise Stopped()

    def hold(self):
        """The command is ending: from now on a signal changes nothing (its exit code is decided). Ignored, not
        handled: Python gives a handled signal its default (death) back while the interpreter shuts down."""
        self.count = 3
        for s in self.old:
            signal.signal(s, signal.SIG_IGN)

    def restore(self):
        """The handlers from before ``install``, and no stop signal."""
        for s, handler in self.old.items():
            signal.signal(s, handler)
        _stop["signal"] = None


def ignore_signals():
    """In a worker process: the submitting process handles SIGINT and SIGTERM and stops its workers itself."""
    for s in SIGNALS:
        signal.signal(s, signal.SIG_IGN)


@contextlib.contextmanager
def signals_ignored():
    """Within (main thread only): SIGINT and SIGTERM ignored, so a child process started here inherits that."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, signal.SIG_IGN) for s in SIGNALS}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def code_for(error: BaseException) -> int:
    """The exit code of a command that ``error`` stopped: the error's own ``exit_code`` where it has one (the
    runner's errors, Stopped), 130/143 for an interruption, 3 for NaN/inf while computing, out of memory or a bug,
    2 for bad input (ValueError, OSError)."""
    code = getattr(error, "exit_code", None)
    if isinstance(code, int):
        return code
    if isinstance(error, KeyboardInterrupt):
        return interrupted_code()
    if isinstance(error, (ValueError, OSError)) and not isinstance(error, FloatingPointError):
        return EXIT_INVALID
    return EXIT_FAILED


def describe(error: BaseException, subject: str) -> str:
    """What the command's line says of the error that stopped it: an OSError as "PATH: why", an interruption
    with its signal, a bug as what it is and the input (``subject``) it came with."""
    if isinstance(error, OSError) and error.strerror:
        return f"{error.filename}: {error.strerror}" if error.filename is not None else error.strerror
    if isinstance(error, MemoryError):
        return (f"{subject}: out of memory; set NOISEKIT_MEMORY_BUDGET lower, so that work that does not fit is "
                "refused before it starts")
    text = str(error) or type(error).__name__
    if code_for(error) in (EXIT_INTERRUPTED, EXIT_TERMINATED):
        return f"{text if str(error) else 'interrupted'} ({signal.Signals(code_for(error) - 128).name})"
    if isinstance(error, (ValueError, OSError, ArithmeticError)) or hasattr(error, "exit_code"):
        return text
    return f"{subject}: internal error {type(error).__name__}: {text} (please report this with the input that caused it)"


def clip(text: str, width: int = CLIP) -> str:
    """``text`` with every word (a path, a value the user gave) longer than ``width`` cut in its middle."""
    def cut(found):
        word = found.group(0)
        return f"{word[:width // 2]}...[{len(word) - width // 2 - 40} characters]...{word[-40:]}"
    return re.sub(r"\S{%d,}" % (width + 1), cut, text)
