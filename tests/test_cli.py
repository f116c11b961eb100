"""The ``noisekit`` command's surface: --version, every default and the exit codes in every --help."""
import argparse
import re
from pathlib import Path

import pytest

from noisekit.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]


def commands():
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return parser, sub.choices


def test_version_is_the_package_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    version = re.search(r'^version = "(.+)"$', (ROOT / "pyproject.toml").read_text(), re.M)[1]
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"noisekit {version}"


@pytest.mark.parametrize("name", sorted(commands()[1]))
def test_every_help_shows_the_defaults_and_the_exit_codes(name):
    parser = commands()[1][name]
    text = " ".join(parser.format_help().split())  # unwrapped
    # (1: only test's failed case; 3: only where work can fail midway)
    assert re.search(r"Exit codes: 0 \w+( \([^)]*\))?, (1 [^,]+, )?2 .+, 130 interrupted", text)
    for action in parser._actions:
        if action.help in (None, argparse.SUPPRESS) or action.default in (None, False, [], argparse.SUPPRESS):
            continue
        help_text = " ".join(action.help.split())
        assert f"(default: {action.default})" in text or "default" in help_text, (name, action.dest)


def test_the_top_level_help_lists_the_exit_codes():
    assert "130 interrupted" in " ".join(commands()[0].format_help().split())
