"""Waiting until accepted events have landed: rows counted in their tables through Trino.

In: per table, how many rows it must hold (optionally among the rows `where` selects).
Out: the counts once every table holds at least that many, or `LandingTimeout` naming
what is missing. Logs each change of the counts. Reads settings: trino.*,
stream.trigger_seconds.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from gamepipe import query
from gamepipe.config import Settings
from gamepipe.errors import LandingTimeout

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Landing:
    table: str
    expected: int  # rows the table must hold
    landed: int
    before: int = 0  # rows it held before the run that is waited for

    @property
    def this_run(self) -> int:
        return self.landed - self.before


def wait_landed(
    settings: Settings, expected: dict[str, int], where: str | None = None, timeout_s: float = 180.0
) -> list[Landing]:
    """Poll Trino until each table holds at least its expected count of rows (`where` them)."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while True:
        landings = [Landing(t, n, query.count(settings, t, where)) for t, n in expected.items()]
        line = ", ".join(f"{x.table} {x.landed}/{x.expected}" for x in landings)
        if line != last:
            log.info("  landed: %s", line)
            last = line
        if all(x.landed >= x.expected for x in landings):
            return landings
        if time.monotonic() > deadline:
            raise LandingTimeout(
                f"after {timeout_s:.0f}s not every accepted event has landed ({line})",
                "check `gamepipe status` and `gamepipe logs stream`",
            )
        time.sleep(settings.stream.trigger_seconds / 2)
