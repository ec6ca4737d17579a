"""`python -m gamepipe.stream --var DIR`: run the streaming job in the foreground (as the
stack's supervisord does); log lines to stderr; exits 1 on an error, which supervisord
answers by starting the job again."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from gamepipe.config import load_settings
from gamepipe.errors import GamepipeError
from gamepipe.log import for_services


def main() -> None:
    parser = argparse.ArgumentParser(prog="gamepipe.stream")
    parser.add_argument("--var", type=Path, help="state directory (default: settings)")
    args = parser.parse_args()
    for_services()
    from gamepipe.stream.job import run  # after logging is set: pyspark takes a second to import

    settings = load_settings(var_dir=args.var) if args.var else load_settings()
    try:
        run(settings)
    except GamepipeError as error:
        logging.getLogger("gamepipe.stream").error("%s", error)
        sys.exit(1)


if __name__ == "__main__":
    main()
