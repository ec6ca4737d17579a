"""`gamepipe demo | bench`: the whole pipeline end to end, and its benchmarks."""

from __future__ import annotations

import subprocess
import sys
from typing import Annotated

import typer
from rich.table import Table

from gamepipe.cli.common import (
    Profile,
    ProfileOption,
    Warehouse,
    WarehouseOption,
    console,
    fail,
    settings,
    show_checks,
    show_game,
    show_result,
    started_settings,
)
from gamepipe.cli.traffic import game_progress

app = typer.Typer()
PANEL = "End to end"


@app.command(rich_help_panel=PANEL)
def demo(
    players: Annotated[int, typer.Option(help="game traffic: players")] = 500,
    events: Annotated[int, typer.Option(help="game traffic: events")] = 20000,
    profile: ProfileOption = Profile.SINGLE,
    warehouse: WarehouseOption = Warehouse.LOCAL,
) -> None:
    """The whole pipeline: stack up, the seed's traffic and queries, game traffic, verify, report."""
    from gamepipe.demo import run_demo

    s = started_settings(profile, warehouse)
    with game_progress(events) as progress:
        result = run_demo(s, players, events, progress)
    for sql, rows in result.seed_queries:
        show_result(sql, rows)
    show_game(result.game)
    show_checks(result.game, result.checks)
    seed, r = result.seed, result.game.requests
    summary = Table("", "value")
    summary.add_row("seed: requests sent / accepted", f"{seed.sent} / {seed.accepted}")
    for x in seed.landings:
        earlier = f"; {x.before} from earlier runs" if x.before else ""
        summary.add_row(f"seed: landed in {x.table}", f"{x.this_run} (expected {x.expected - x.before}{earlier})")
    summary.add_row("seed: traffic -> landed", f"{seed.landed_s:.1f}s")
    summary.add_row("game: requests sent / 2xx / refused as planned", f"{r.sent:,} / {r.ok:,} / {r.non_2xx:,}")
    summary.add_row("game: events accepted, events/s", f"{result.game.accepted_events:,}, {result.game.events_per_s:,}")
    summary.add_row("game: last event sent -> all verified", f"{result.game_landed_s:.1f}s")
    summary.add_row("game: verify", "passed" if result.verified else "FAILED")
    summary.add_row("report", str(result.report))
    summary.add_row("elapsed", f"{result.elapsed_s:.0f}s")
    console.print(summary)
    if not seed.ok:
        fail("seed: landed counts differ from what ab got answered (see above)")
    if not result.verified:
        fail(f"game run {result.game.run_id} does not reconcile (see the checks above)")


@app.command(rich_help_panel=PANEL)
def bench(
    what: Annotated[
        list[str] | None,
        typer.Argument(
            help="ingest, freshness, query, memory, soak, demo, all (default), doc; files (1 h) and cluster if named"
        ),
    ] = None,
    quick: Annotated[bool, typer.Option(help="tiny sizes: checks the harness, not the machine")] = False,
    sizes: Annotated[
        str | None, typer.Option(help="query: events per size, comma-separated (default 1e5,1e6,1e7,1e8)")
    ] = None,
) -> None:
    """Run the benchmarks (bench/, needs the stack up) and rewrite docs/benchmarks.md."""
    s = settings()
    if not (s.root / "bench" / "__main__.py").exists():
        fail(f"no bench/ in {s.root}: the benchmarks run from a checkout of gamepipe")
    argv = [sys.executable, "-m", "bench", *(what or ["all"]), *(["--quick"] if quick else [])]
    argv += ["--sizes", sizes] if sizes else []
    raise typer.Exit(subprocess.call(argv, cwd=s.root))
