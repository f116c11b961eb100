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
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"\nnoisekit {args.command}: interrupted; nothing was written", file=sys.stderr)
        return runner_cli.EXIT_INTERRUPTED
    except FloatingPointError as e:  # NaN/inf mid-sampling or in the result: the message names the step
        print(f"noisekit {args.command}: {e}", file=sys.stderr)
        return runner_cli.EXIT_FAILED
    except (ValueError, OSError) as e:  # bad input: its message names the file or option and the fix
        print(f"noisekit {args.command}: {e}", file=sys.stderr)
        return runner_cli.EXIT_INVALID
    except Exception as e:  # a bug, not the input's fault: still one line, not a traceback
        print(f"noisekit {args.command}: internal error {type(e).__name__}: {e} (please report this with the "
              "input that caused it)", file=sys.stderr)
        return runner_cli.EXIT_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
