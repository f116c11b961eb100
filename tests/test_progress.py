"""Progress (progress.py): on a terminal a bar with an ETA that stays after the work; off a terminal no
bars, and the command's periodic one-line progress."""
import io
import re
import sys

import pytest

from noisekit import progress


@pytest.fixture(autouse=True)
def no_reporter():
    """Each test starts with no reporter installed (as a fresh process does) and leaves the one it found."""
    old = progress.set_reporter(None)
    yield
    progress.set_reporter(old)


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_the_bar_shows_an_eta_and_stays(monkeypatch):
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    bar = progress.bar(5, "denoise")
    for _ in range(5):
        bar.update(1)
    frames = screen.getvalue().split("\r")
    assert any(re.search(r"denoise: +\d+%.*\d/5 \[\d\d:\d\d<\d\d:\d\d", f) for f in frames)  # elapsed<remaining
    assert re.search(r"denoise: 100%.*5/5", frames[-1]) and frames[-1].endswith("\n")  # left on the screen


def test_off_a_terminal_library_calls_draw_nothing(monkeypatch):
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    bar = progress.bar(3, "sampling")
    for _ in range(3):
        bar.update(1)
    assert log.getvalue() == ""


def test_line_reporter_prints_now_and_then_with_an_eta():
    log = io.StringIO()
    report = progress.line_reporter(every=10, stream=log)
    for value, elapsed in [(1, 2.0), (2, 11.0), (3, 15.0), (4, 22.0), (6, 30.0)]:
        report({"value": value, "max": 6, "desc": "denoise", "elapsed": elapsed})
    assert log.getvalue().splitlines() == ["denoise: 2/6 (33%), 11 s, about 22 s left",  # 11 s * 4 / 2
                                           "denoise: 4/6 (67%), 22 s, about 11 s left",
                                           "denoise: 6/6 (100%), 30 s"]
    quick = io.StringIO()
    report = progress.line_reporter(every=10, stream=quick)
    for value in (1, 2):
        report({"value": value, "max": 2, "desc": "sampling", "elapsed": value * 0.1})
    assert quick.getvalue() == ""  # work shorter than the period says nothing


def test_the_command_reports_lines_only_off_a_terminal(monkeypatch):
    for stream, reports in ((io.StringIO(), True), (Terminal(), False)):
        monkeypatch.setattr(sys, "stderr", stream)
        with progress.lines_off_terminal():
            assert (progress.bar(2).reporter is not None) == reports
        assert progress.bar(2).reporter is None  # restored afterwards


def test_reporters_get_the_elapsed_time():
    seen = []
    old = progress.set_reporter(seen.append)
    try:
        progress.bar(2, "x").update(2)
    finally:
        progress.set_reporter(old)
    assert seen[0]["value"] == 2 and seen[0]["max"] == 2 and 0 <= seen[0]["elapsed"] < 5
