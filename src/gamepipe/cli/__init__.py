"""The `gamepipe` command: one entry point for people, the Makefile and CI.

Its commands come from sub-apps by concern, merged at the top level (`gamepipe up`, not
`gamepipe stack up`): `stack` (setup, up, down, status, logs, trino), `traffic` (load,
verify), `tables` (query, report, maintain, replay), `run` (demo, bench). Heavy imports
(pyspark, trino, confluent_kafka) happen inside the commands that need them, so
`gamepipe --help` is instant. Every error gamepipe raises is caught here, once: its
message and what to do next are printed, and the exit code says whether trying again
later may help (75) or something must change first (1).
"""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from gamepipe.cli import run, stack, tables, traffic
from gamepipe.cli.common import console, errors
from gamepipe.errors import GamepipeError
from gamepipe.log import for_people

EX_TEMPFAIL = 75  # sysexits.h: a temporary failure, try again later

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.splitlines()[0])
for part in (stack, traffic, tables, run):
    app.add_typer(part.app)


def main() -> None:
    for_people(console)
    try:
        app()
    except GamepipeError as error:
        errors.print(f"[bold red]error:[/] {escape(error.message)}", soft_wrap=True)
        if error.hint:
            errors.print(f"what to do: {error.hint}", markup=False, soft_wrap=True)
        sys.exit(EX_TEMPFAIL if error.transient else 1)
