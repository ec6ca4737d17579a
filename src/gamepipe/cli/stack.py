"""`gamepipe setup | up | down | status | logs | trino`: the local stack; `serve | health`:
a service as a container's main process (the docker profile)."""

from __future__ import annotations

import os
import subprocess
import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from gamepipe.cli.common import (
    Profile,
    ProfileOption,
    Warehouse,
    WarehouseOption,
    console,
    fail,
    say,
    settings,
    started_settings,
)
from gamepipe.config import forget_profile, recorded_profile

if TYPE_CHECKING:
    from gamepipe.stack.base import Service

app = typer.Typer()
PANEL = "The stack"


@app.command(rich_help_panel=PANEL)
def setup() -> None:
    """Install what the stack needs: Debian packages, JVM artifacts (Maven)."""
    from gamepipe.stack.setup import setup as do_setup

    do_setup(settings())
    say("setup done")


@app.command(rich_help_panel=PANEL)
def up(profile: ProfileOption = Profile.SINGLE, warehouse: WarehouseOption = Warehouse.LOCAL) -> None:
    """Start the local stack (postgres, kafka, trino, stream, api) and wait until healthy."""
    from gamepipe.stack.manager import up as do_up

    started = time.monotonic()
    s = started_settings(profile, warehouse)
    say(f"starting the stack (profile {recorded_profile()})")
    do_up(s)
    say(f"stack up in {time.monotonic() - started:.0f}s")


@app.command(rich_help_panel=PANEL)
def down() -> None:
    """Stop every process of the stack."""
    from gamepipe.stack.manager import down as do_down

    s = settings()
    do_down(s)
    forget_profile()


@app.command(rich_help_panel=PANEL)
def status() -> None:
    """Show each service (pid, health, uptime, restarts) and how the stream keeps up."""
    from gamepipe.stack.apps import Stream
    from gamepipe.stack.manager import status as do_status

    s = settings()
    table = Table("service", "pid", "state", "up for", "crashes / restarts", "where", "log")
    for svc in do_status(s):
        if svc.healthy:
            state = "[green]healthy[/]"
        elif svc.restarts.fatal:
            state = "[red]FATAL: supervisord gave up restarting it[/]"
        elif svc.pid or svc.state in ("STARTING", "BACKOFF"):
            state = f"[yellow]{svc.state.lower()}, not healthy[/]"
        else:
            state = "[red]down[/]"
        since = f"{time.time() - svc.since:.0f} s" if svc.since and svc.pid else "-"
        r = svc.restarts
        last = f", last {time.strftime('%H:%M:%S', time.localtime(r.last_crash))}" if r.last_crash else ""
        crashes = f"{r.crashes} / {r.restarts}{last}"
        table.add_row(svc.name, str(svc.pid or "-"), state, since, crashes, svc.where, svc.log)
    console.print(table)
    stream_status = Stream(s).status()
    if stream_status is None:
        return
    from gamepipe.stream.monitor import StreamState, health, stream_verdict

    tables = Table("table", "batch", "last commit", "rows/s", "kafka lag")
    healths = health(s, stream_status)
    for t in healths:
        lag = "?" if t.lag is None else str(t.lag)
        tables.add_row(t.table, str(t.batch), t.last_commit or "-", f"{t.rows_per_s or 0:.0f}", lag)
    console.print(tables)
    judged = stream_verdict(s, stream_status, healths)
    colour = {StreamState.KEEPING_UP: "green", StreamState.BEHIND: "yellow"}.get(judged.state, "red")
    console.print(f"stream: [{colour}]{judged.state}[/]  (late rows since it started: {stream_status.late_rows:,})")
    for warning in judged.warnings:
        console.print(f"[bold red]warning:[/] {warning}", soft_wrap=True)


@app.command(rich_help_panel=PANEL)
def logs(
    service: Annotated[str, typer.Argument(help="postgres, kafka, trino, stream or api")],
    lines: Annotated[int, typer.Option("-n", help="lines to show")] = 50,
    follow: Annotated[bool, typer.Option("-f", help="keep following")] = False,
) -> None:
    """Show a service's log."""
    svc = _service(service)
    if not svc.log_path.exists():
        fail(f"{svc.log_path} does not exist yet: {service} was never started")
    argv = ["tail", "-n", str(lines), *(["-F"] if follow else []), str(svc.log_path)]
    raise typer.Exit(subprocess.call(argv))


@app.command(rich_help_panel=PANEL, context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def trino(ctx: typer.Context) -> None:
    """The seed's Presto session: Trino's own CLI, --catalog hive --schema default (more
    options go to it, e.g. --execute "show tables")."""
    from gamepipe.stack.setup import java25_home

    s = settings()
    t = s.trino
    jar = s.jvm / "trino" / "trino-cli.jar"
    if not jar.exists():
        fail(f"{jar} is missing; run `make setup`")
    java = str(java25_home(s) / "bin" / "java")
    server = f"http://{t.host}:{t.port}"
    argv = [java, "-jar", str(jar), "--server", server, "--catalog", t.catalog, "--schema", t.schema_, *ctx.args]
    os.execv(java, argv)  # noqa: S606 - our own argv, no shell


CONTAINERS = "In a container (deploy/docker-compose.yaml)"


@app.command(rich_help_panel=CONTAINERS)
def serve(
    service: Annotated[str, typer.Argument(help="postgres, namenode, datanode, kafka, trino, stream or api")],
) -> None:
    """Run one service as this container's main process (the docker profile)."""
    from gamepipe.stack.containers import serve as do_serve

    raise typer.Exit(do_serve(_service(service)))


@app.command(name="health", rich_help_panel=CONTAINERS)
def health_check(service: Annotated[str, typer.Argument(help="the service this container serves")]) -> None:
    """Exit 0 if the service is up and provisioned (the compose health check)."""
    from gamepipe.stack.containers import healthy

    if not healthy(_service(service)):
        raise typer.Exit(1)


def _service(name: str) -> Service:
    from gamepipe.stack.manager import service as find

    try:
        return find(settings(), name)
    except KeyError as exc:
        fail(str(exc.args[0]))
