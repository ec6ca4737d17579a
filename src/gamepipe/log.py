"""The package's logging: every module logs to `logging.getLogger(__name__)` (all under
`gamepipe`), and the program at the edge chooses where the lines go, once:

- `for_people(console)`: the CLI. Messages as written, through rich; warnings and errors
  marked. What a user reads while `up`, `demo` or `replay` works.
- `for_services()`: a service of the stack (the stream job, the API workers, table
  care's child). Plain lines with time, level and name on stderr, which supervisord
  writes to `var/logs/<service>.log`.

Library code never prints. Before either is called (a test, a notebook) only warnings
and errors reach stderr (Python's last-resort handler).
"""

from __future__ import annotations

import logging
import sys

from rich.console import Console
from rich.markup import escape

ROOT = "gamepipe"


class _ForPeople(logging.Handler):
    def __init__(self, console: Console) -> None:
        super().__init__(logging.INFO)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.levelno >= logging.ERROR:
                self.console.print(f"[bold red]error:[/] {escape(text)}", soft_wrap=True)
            elif record.levelno >= logging.WARNING:
                self.console.print(f"[bold yellow]warning:[/] {escape(text)}", soft_wrap=True)
            else:
                self.console.print(text, markup=False, highlight=False, soft_wrap=True)
        except Exception:  # noqa: BLE001 - logging must never raise into the caller
            self.handleError(record)


def _install(handler: logging.Handler) -> None:
    logger = logging.getLogger(ROOT)
    for old in list(logger.handlers):
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def for_people(console: Console) -> None:
    _install(_ForPeople(console))


def for_services() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"))
    _install(handler)
