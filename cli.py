"""The ``noisekit`` console script: ``run`` and ``nodes`` (runner/cli.py), ``denoise`` and
``inpaint`` (photo/cli.py). Exit codes: 0 success, 2 bad input, 3 a node failed, 130 interrupted."""
from __future__ import annotations

import argparse
import sys

from .photo import cli as photo_cli
from .runner import cli as runner_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="noisekit", description="noisekit: diffusion schedules, samplers, photo "
                                     "denoise/inpaint, and a headless runner for saved ComfyUI graphs.")
    sub = parser.add_subparsers(dest="command", required=True)
    runner_cli.add_parsers(sub)
    photo_cli.add_parsers(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("run", "nodes"):
        return args.func(args)
    try:
        return args.func(args)
    except (ValueError, OSError) as e:
        print(f"noisekit {args.command}: {e}", file=sys.stderr)
        return runner_cli.EXIT_INVALID


if __name__ == "__main__":
    raise SystemExit(main())
