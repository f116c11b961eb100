"""The ``noisekit`` console script; the commands live in runner/cli.py."""
from .runner.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
