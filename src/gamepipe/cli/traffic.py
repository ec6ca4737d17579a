"""`gamepipe load | verify`: game traffic through the API with `ab`, and its reconciliation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gamepipe.cli.common import console, say, settings, show_checks, show_game
from gamepipe.load.game import ProgressHook

app = typer.Typer()
PANEL = "Traffic"


class Scenario(StrEnum):
    SEED = "seed"
    GAME = "game"
    STRESS = "stress"


class GameProgress:
    """A progress bar for a game run's sending (events sent, rate, answers as planned or
    not), shown from the first answer until the last event is sent."""

    COLUMNS = (
        TextColumn("sending"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events"),
        TextColumn("{task.fields[rate]:>8} ev/s  ok {task.fields[ok]}  errors {task.fields[errors]}"),
        TimeElapsedColumn(),
    )

    def __init__(self, events: int) -> None:
        self.events = events
        self.bar: Progress | None = None
        self.started = 0.0

    def __call__(self, sent: int, ok: int, errors: int) -> None:
        if self.bar is None:
            self.bar = Progress(*self.COLUMNS, console=console, transient=False)
            self.bar.add_task("load", total=self.events, rate="-", ok=0, errors=0)
            self.bar.start()
            self.started = time.monotonic()
        rate = f"{sent / max(time.monotonic() - self.started, 1e-3):,.0f}"
        self.bar.update(self.bar.task_ids[0], completed=sent, rate=rate, ok=ok, errors=errors)
        if sent >= self.events:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@contextmanager
def game_progress(events: int) -> Iterator[ProgressHook]:
    progress = GameProgress(events)
    try:
        yield progress
    finally:
        progress.close()


@app.command(rich_help_panel=PANEL)
def load(
    scenario: Annotated[
        Scenario, typer.Option(help="seed (generate_data.sh), game (a population), stress (max rate)")
    ] = Scenario.SEED,
    players: Annotated[int, typer.Option(help="game: players in the population")] = 500,
    requests: Annotated[
        int, typer.Option("--requests", "--events", help="game: events to send; stress: batches, unless --duration")
    ] = 20000,
    concurrency: Annotated[int, typer.Option(help="game: ab processes in parallel")] = 8,
    seed: Annotated[int, typer.Option(help="game: random seed (same seed, same plan)")] = 42,
    faults: Annotated[int, typer.Option(help="game: how many of each fault to inject")] = 0,
    duration: Annotated[float, typer.Option(help="stress: seconds to send for (else --requests batches)")] = 0,
    days: Annotated[int, typer.Option(min=1, max=28, help="game: game days the population lives")] = 14,
    effects: Annotated[
        bool, typer.Option(help="game: plant the effects the report must find (guild retention, price change)")
    ] = True,
) -> None:
    """Send game traffic to the API with Apache Bench."""
    s = settings()
    if scenario is Scenario.SEED:
        from gamepipe import load as ld

        runs = ld.run_seed(s)
        sent, ok = sum(r.requests for r in runs), sum(r.stats.ok for r in runs)
        say(f"sent {sent} requests: {ok} answered 2xx, {sent - ok} not")
    elif scenario is Scenario.GAME:
        from gamepipe.load.game import run_game

        with game_progress(requests) as progress:
            manifest = run_game(s, seed, players, requests, concurrency, faults, progress, days=days, effects=effects)
        show_game(manifest)
    else:
        from gamepipe.load.stress import run_stress

        what = f"{duration:.0f}s" if duration else f"{requests:,} batches"
        say(f"stress: POSTing 100-event batches with ab -c {concurrency} for {what}")
        show_game(run_stress(s, seed, concurrency, 0 if duration else requests, duration or None))


@app.command(rich_help_panel=PANEL)
def verify(
    run: Annotated[str, typer.Argument(help="run id under var/runs/ (default: the latest)")] = "",
    wait: Annotated[float, typer.Option(help="seconds to wait for the events to land")] = 120.0,
) -> None:
    """Reconcile a load run's ground truth with the tables (through Trino)."""
    from gamepipe.errors import VerifyError
    from gamepipe.manifest import Manifest, latest_run
    from gamepipe.verify import verify_until

    s = settings()
    chosen = run or latest_run(s)
    if chosen is None:
        raise VerifyError("no load run yet", "`gamepipe load --scenario game` makes one")
    manifest = Manifest.load(s, chosen)
    if not show_checks(manifest, verify_until(s, manifest, wait)):
        raise typer.Exit(1)
