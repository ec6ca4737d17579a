"""`python -m gamepipe.stream --var DIR`: run the streaming job in the foreground."""

from __future__ import annotations

import argparse
from pathlib import Path

from gamepipe.config import load_settings
from gamepipe.stream.job import run


def main() -> None:
    parser = argparse.ArgumentParser(prog="gamepipe.stream")
    parser.add_argument("--var", type=Path, help="state directory (default: settings)")
    args = parser.parse_args()
    settings = load_settings(var_dir=args.var) if args.var else load_settings()
    run(settings)


if __name__ == "__main__":
    main()
