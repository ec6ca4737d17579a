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
    expected: int
    landed: int


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
    runs = load.run_seed(settings, say)
    accepted = load.accepted_by_type(runs)
    landings = wait_landed(settings, expected_landings(settings, dict(accepted)), say=say)
    return runs, landings
