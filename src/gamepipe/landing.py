"""Waiting until accepted events have landed: rows counted in their tables through Trino.

In: per table, how many rows it must hold (optionally among the rows `where` selects).
Out: the counts once every table holds at least that many, or `LandingTimeout` naming
what is missing. Logs each change of the counts. `wait_caught_up`: until the stream has
processed every record in Kafka (a stream started on a topic that holds records works
them off first). Reads settings: trino.*, kafka.*, stream.*.
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


def wait_caught_up(settings: Settings, timeout_s: float = 600.0) -> None:
    """Until the stream has processed every record the topic holds now."""
    from gamepipe.stream.monitor import end_offsets, lag
    from gamepipe.stream.status import StreamStatus

    ends = end_offsets(settings.kafka.bootstrap, settings.kafka.topic)
    if not any(ends.values()):
        return
    deadline = time.monotonic() + timeout_s
    last = None
    while True:
        status = StreamStatus.read(settings.stream_dir / "status.json")
        behind = lag(ends, status.offsets) if status is not None and status.offsets else sum(ends.values())
        if not behind:
            return
        if behind != last:
            log.info("  the stream works off what Kafka holds: %s records to go", f"{behind:,}")
            last = behind
        if time.monotonic() > deadline:
            raise LandingTimeout(
                f"after {timeout_s:.0f}s the stream still has {behind:,} records of the topic to process",
                "check `gamepipe status` and `gamepipe logs stream`",
            )
        time.sleep(1)
