"""The ``noisekit`` console script: ``run``, ``test``, ``check``, ``convert`` and ``nodes`` (runner/cli.py), ``denoise`` and
``inpaint`` (photo/cli.py), and the options of those that run over many inputs (noisekit.batch). Exit
codes: exits.py."""
from __future__ import annotations

import argparse
import sys
from importlib import metadata

from . import exits, files, progress
from .photo import cli as photo_cli
from .runner import cli as runner_cli


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows "(default: X)" after an option's help, unless the help already says its default
    or there is none to say (None, False, an empty list)."""

    def _get_help_string(self, action):
        if action.default in (None, False, []) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def version() -> str:
    try:
        return metadata.version("noisekit")
    except metadata.PackageNotFoundError:  # run from a checkout that was not pip-installed
        return "unknown (not installed)"


def add_batch_options(parser, json_progress: bool):
    """The options of a command that runs over many inputs (noisekit.batch), with an event per item
    unless the command prints events of its own."""
    parser.add_argument("--workers", type=int, metavar="N",
                        help="worker processes (Ray: actors), each computing with torch's threads as a lone "
                             "run does (set OMP_NUM_THREADS to change both); default: as many as the cores "
                             "(Ray: the cluster's CPUs) hold, one for a GPU (Ray: one per GPU)")
    parser.add_argument("--ray", metavar="ADDRESS", help="run on a Ray cluster: host:port, auto, or local "
                                                         "(start one here); needs pip install 'noisekit[ray]'")
    if json_progress:
        parser.add_argument("--json-progress", action="store_true",
                            help="print an event per item as JSON lines on stdout")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="noisekit", description="noisekit: diffusion schedules, samplers, photo "
                                     "denoise/inpaint, and a headless runner for saved ComfyUI graphs.",
                                     epilog=exits.SUMMARY, formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"noisekit {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    runner_cli.add_parsers(sub)
    photo_cli.add_parsers(sub)
    for name in ("run", "denoise", "inpaint"):  # run --over, and denoise/inpaint of a folder
        add_batch_options(sub.choices[name], json_progress=name != "run")  # run prints its own events
    for command in sub.choices.values():
        command.formatter_class = HelpFormatter
    return parser


def main(argv=None) -> int:
    """Run a command; whatever stops it becomes one exit code and one line on stderr, here and nowhere else.
    Called with ``argv`` (by a program that goes on), it gives the signal handlers back when done; as the
    process's own command it keeps them, so that a late Ctrl-C cannot kill the exiting process."""
    args = build_parser().parse_args(argv)
    name = f"noisekit {args.command}"
    subject = next((getattr(args, key) for key in ("graph", "workflow", "input") if getattr(args, key, None)), name)
    signals = exits.StopOnSignals(name).install()
    try:
        with progress.lines_off_terminal(), files.scratch_folder():
            try:
                return args.func(args)
            finally:
                signals.hold()  # ending: a signal from now on changes nothing
    except Exception as e:
        code = exits.code_for(e)
        print(f"{name}: {exits.clip(exits.describe(e, subject))}", file=sys.stderr)
        return code
    except KeyboardInterrupt as e:  # a second signal (Stopped), or Ctrl-C where no handler could be installed
        print(f"\n{name}: {exits.describe(e, subject)}", file=sys.stderr)
        return exits.code_for(e)
    finally:
        if argv is not None:
            signals.restore()


if __name__ == "__main__":
    raise SystemExit(main())
