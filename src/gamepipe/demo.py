"""`gamepipe demo`: the seed's scenario end to end, and a one-screen summary.

Starts the stack, sends the seed's `ab` traffic, waits until every accepted event has
landed in its table (counted through Trino), then prints the seed's Presto queries
with their results. Reads settings: everything the stack reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from gamepipe import load, query
from gamepipe.config import Settings


class LandingTimeout(RuntimeError):
    """Not every accepted event reached its table in time (the stream is behind or down)."""


@dataclass(frozen=True)
class Landing:
    table: str
    expected: int  # rows the table must hold: what it held before + this run's accepted
    landed: int
    before: int = 0

    @property
    def this_run(self) -> int:
        return self.landed - self.before


def expected_landings(settings: Settings, accepted: dict[str, int]) -> dict[str, int]:
    """table -> events that must land there: routed event types' accepted counts."""
    return {table: accepted.get(event_type, 0) for event_type, table in settings.stream.routes.items()}


def wait_landed(
    settings: Settings,
    expected: dict[str, int],
    timeout_s: float = 180.0,
    say: Callable[[str], None] = print,
) -> list[Landing]:
    """Poll Trino until each table holds at least its expected count."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while True:
        landings = [Landing(t, n, query.count(settings, t)) for t, n in expected.items()]
        line = ", ".join(f"{x.table} {x.landed}/{x.expected}" for x in landings)
        if line != last:
            say(f"  landed: {line}")
            last = line
        if all(x.landed >= x.expected for x in landings):
            return landings
        if time.monotonic() > deadline:
            raise LandingTimeout(
                f"after {timeout_s:.0f}s not every accepted event has landed ({line}); "
                "check `gamepipe status` and `gamepipe logs stream`"
            )
        time.sleep(settings.stream.trigger_seconds / 2)


def run_seed_scenario(settings: Settings, say: Callable[[str], None] = print) -> tuple[list[load.AbRun], list[Landing]]:
    """Send the seed's traffic and wait until this run's accepted events have landed
    (counted on top of what the tables held before, so a second demo checks too)."""
    before = {table: query.count(settings, table) for table in settings.stream.routes.values()}
    runs = load.run_seed(settings, say)
    accepted = expected_landings(settings, dict(load.accepted_by_type(runs)))
    expected = {table: before[table] + n for table, n in accepted.items()}
    landings = wait_landed(settings, expected, say=say)
    return runs, [Landing(x.table, x.expected, x.landed, before[x.table]) for x in landings]
