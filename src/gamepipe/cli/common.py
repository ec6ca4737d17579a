"""What the CLI's commands share: the console, the settings, and how results are shown."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gamepipe.config import PROFILE_ENV, Settings, load_settings, record_profile, recorded_profile
from gamepipe.errors import ConfigError
from gamepipe.manifest import Manifest
from gamepipe.query import Result
from gamepipe.verify import Check

# Wide when piped (CI logs, `make demo | tee`): tables must not wrap into noise.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
# Errors on stderr: `gamepipe maintain --json` keeps stdout for its one line of JSON.
errors = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 160)


def settings() -> Settings:
    """The settings, in the profile the stack was started with (`gamepipe up --profile`)."""
    return load_settings()


class Profile(StrEnum):
    SINGLE = "single"
    CLUSTER = "cluster"


class Warehouse(StrEnum):
    LOCAL = "local"
    HDFS = "hdfs"


ProfileOption = Annotated[
    Profile, typer.Option(help="single: one process per service; cluster: every node a host of its own")
]
WarehouseOption = Annotated[
    Warehouse, typer.Option(help="single profile: the warehouse on local disk or on HDFS the stack starts")
]


def started_settings(profile: Profile, warehouse: Warehouse) -> Settings:
    """The settings of the profile chosen on `up`'s or `demo`'s command line, remembered in
    <var> so that later commands (status, query, down) use them too."""
    from gamepipe.stack.supervisor import Supervisor

    if os.environ.get(PROFILE_ENV) == "docker":
        raise ConfigError(
            "this is a container of the docker profile: the stack's services are the compose file's containers",
            "on the host, `docker-compose up -d` in deploy/ starts them and `docker-compose ps` shows them",
        )
    name = "cluster" if profile is Profile.CLUSTER else ("hdfs" if warehouse is Warehouse.HDFS else "single")
    running = recorded_profile()
    if running not in (None, name) and Supervisor(load_settings(profile=running)).running():
        raise ConfigError(f"a stack of profile {running!r} runs, not {name!r}", "`gamepipe down` first")
    settings = load_settings(profile=name)  # a profile that does not load is not recorded
    record_profile(name)
    return settings


def say(line: str) -> None:
    console.print(line, markup=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """End the command with an error the user made on its command line."""
    errors.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def show_result(sql: str, result: Result) -> None:
    console.print(f"[bold]{escape(sql)}[/]", soft_wrap=True)
    table = Table(*result.columns)
    for row in result.rows:
        table.add_row(*("NULL" if v is None else str(v) for v in row))
    console.print(table)


def show_game(m: Manifest) -> None:
    r = m.requests
    table = Table("run " + m.run_id, "value")
    table.add_row("requests sent (ab)", f"{r.sent:,}  {r.by_kind}")
    table.add_row("answered 2xx / non-2xx", f"{r.ok:,} / {r.non_2xx:,}")
    table.add_row("answered as planned", f"{r.answered_as_expected:,}  unexpected: {r.unexpected_by_kind or 0}")
    if r.by_status:
        table.add_row("statuses; requests retried (503)", f"{r.by_status}; {r.retried:,}")
    table.add_row("events accepted", f"{m.accepted_events:,} of {m.truth.events:,} planned")
    table.add_row("requests/s, events/s", f"{m.requests_per_s}, {m.events_per_s}")
    lat = m.latency_ms
    table.add_row("latency ms (ab) p50/p95/p99/max", f"{lat.p50}/{lat.p95}/{lat.p99}/{lat.max}")
    table.add_row("manifest", f"var/runs/{m.run_id}/manifest.json")
    console.print(table)


def show_checks(manifest: Manifest, results: list[Check]) -> bool:
    """The checks as a table, then one line: all passed, or which failed. True if all passed."""
    table = Table("check", "expected", "found", "")
    for c in results:
        table.add_row(c.what, _short(c.expected), _short(c.found), "[green]ok[/]" if c.ok else "[red]MISMATCH[/]")
    console.print(table)
    bad = [c for c in results if not c.ok]
    if bad:
        what = "; ".join(c.what for c in bad)
        console.print(f"[bold red]error:[/] run {manifest.run_id}: {len(bad)} check(s) failed: {escape(what)}")
        return False
    say(f"run {manifest.run_id}: all {len(results)} checks passed")
    return True


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."
