"""`gamepipe demo`: the whole pipeline on the seed's scenario and a game population.

In: settings, the game's size. Out: a `DemoResult` the CLI renders: the seed's `ab`
runs and where their events landed, the seed's Presto queries with their rows, the
game run's manifest and `verify`'s checks, the report's path, the times. Steps are
logged as they go. The stack is left up. Reads settings: everything the stack reads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gamepipe import hdfs, load, query, report
from gamepipe.config import Settings
from gamepipe.landing import Landing, wait_caught_up, wait_landed
from gamepipe.load.game import run_game
from gamepipe.manifest import Manifest
from gamepipe.stack import manager
from gamepipe.tables import Role, stream_tables
from gamepipe.verify import Check, verify_until

log = logging.getLogger(__name__)

STEPS = 7
GAME_SEED, GAME_CONCURRENCY, GAME_FAULTS = 42, 8, 3


@dataclass(frozen=True)
class SeedResult:
    runs: list[load.AbRun]
    landings: list[Landing]
    landed_s: float  # from the first request until every accepted event was in its table

    @property
    def sent(self) -> int:
        return sum(r.requests for r in self.runs)

    @property
    def accepted(self) -> int:
        return sum(r.stats.ok for r in self.runs)

    @property
    def ok(self) -> bool:
        return all(x.landed == x.expected for x in self.landings)


@dataclass(frozen=True)
class DemoResult:
    seed: SeedResult
    seed_queries: list[tuple[str, query.Result]]
    game: Manifest
    checks: list[Check]
    game_landed_s: float  # from the last answer until verify passed (or gave up)
    report: Path
    elapsed_s: float

    @property
    def verified(self) -> bool:
        return all(c.ok for c in self.checks)


def run_seed_scenario(settings: Settings) -> SeedResult:
    """Send the seed's traffic and wait until this run's accepted events have landed
    (counted on top of what the tables held before, so a second demo checks too)."""
    wait_caught_up(settings)  # what the topic held before lands first, and counts as before
    started = time.monotonic()
    routed = [t for t in stream_tables(settings.stream) if t.role is Role.ROUTED]
    before = {t.name: query.count(settings, t.name) for t in routed}
    runs = load.run_seed(settings)
    accepted = load.accepted_by_type(runs)
    expected = {t.name: before[t.name] + accepted.get(str(t.event_type), 0) for t in routed}
    landings = wait_landed(settings, expected)
    landed = [Landing(x.table, x.expected, x.landed, before[x.table]) for x in landings]
    return SeedResult(runs, landed, time.monotonic() - started)


def files_where_the_warehouse_is(settings: Settings) -> list[Check]:
    """On HDFS: the tables' data files, as Trino lists them (`"<table>$files"`), under the
    warehouse's hdfs:// URI, and none elsewhere."""
    if not hdfs.is_hdfs(settings.warehouse):
        return []
    inside = f"file_path like '{settings.warehouse}/%'"
    tables = [f'"{t.name}$files"' for t in stream_tables(settings.stream)]
    under = sum(query.count(settings, files, inside) for files in tables)
    elsewhere = sum(query.count(settings, files, f"not {inside}") for files in tables)
    return [
        Check(f"data files under {settings.warehouse}: some, and none elsewhere", (True, 0), (under > 0, elsewhere))
    ]


def step(n: int, text: str) -> None:
    log.info("%d/%d %s", n, STEPS, text)


def run_demo(
    settings: Settings, players: int, events: int, progress: Callable[[int, int, int], None] | None = None
) -> DemoResult:
    """Every step of the demo; `progress(events_sent, answered_ok, errors)` while the game sends."""
    started = time.monotonic()
    step(1, "starting the stack")
    manager.up(settings)
    step(2, "the seed's traffic with ab (generate_data.sh, once through)")
    seed = run_seed_scenario(settings)
    step(3, "the seed's Presto queries, through Trino")
    seed_queries = [(sql, query.run(settings, sql)) for sql in query.SEED_QUERIES]
    step(4, f"game traffic with ab: {events:,} events from {players} players, with injected faults")
    game = run_game(settings, GAME_SEED, players, events, GAME_CONCURRENCY, GAME_FAULTS, progress)
    step(5, "verify: the run's ground truth against the tables")
    verify_started = time.monotonic()
    checks = verify_until(settings, game, wait_s=180) + files_where_the_warehouse_is(settings)
    game_landed_s = time.monotonic() - verify_started
    step(6, "the report (notebooks/report.ipynb, executed and rendered)")
    html = report.render(settings, game.run_id, "trino")
    step(7, "summary")
    return DemoResult(seed, seed_queries, game, checks, game_landed_s, html, time.monotonic() - started)
