"""`gamepipe verify RUN`: reconcile a load run's manifest with the tables, through Trino.

In: the run's `Manifest` (`var/runs/<run>/manifest.json`). Out: a list of `Check`s
(what, expected, found); the command prints them and exits non-zero on any mismatch.
A run's rows are found by their `session_id` prefix (`<run>-`), a rollup's by its own
condition (gamepipe/rollup.py: item_days keeps the run). Checked: every request
answered exactly as planned (200 for valid traffic, 400 / 413 for the injected faults,
after retries of 503s); every accepted event landed exactly once in the all-events table
(duplicates sent collapsed), per event type, revenue to the cent, events per day of
`client_ts` (game time, and the late client times of the faults, kept); each routed
table's rows, each event id once, per sword type and guild; each rollup's events, revenue
and events per client day, as the all-events table's; none of the run's events among
the dead letters. Tables that configuration turns off are not
checked. Reads settings: trino.*, stream.*.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from gamepipe import query
from gamepipe.config import Settings
from gamepipe.manifest import VERIFIED, Manifest, Verified, run_dir
from gamepipe.rollup import LANDED, OF_RUN_BY_SESSION, THROUGH
from gamepipe.tables import Role, stream_tables


@dataclass(frozen=True)
class Check:
    what: str
    expected: Any
    found: Any

    @property
    def ok(self) -> bool:
        return bool(self.expected == self.found)


def _grouped(settings: Settings, sql: str) -> dict[str, int]:
    return dict(sorted((str(k), int(v)) for k, v in query.run(settings, sql).rows))


def _once(settings: Settings, table: str, where: str) -> tuple[int, int]:
    """(rows, distinct event ids) of the run in `table`."""
    sql = f"select count(*), count(distinct event_id) from {table} where {where}"
    total, distinct = query.run(settings, sql).rows[0]
    return int(total), int(distinct)


def lifetime_totals(name: str, rollup: str, of_run: str, of_run_in_rollup: str) -> str:
    """Events and revenue of a run in a lifetime table plus its rollup's rows landed after
    the table's THROUGH, as the per-player queries read them (queries/headline.sql)."""
    return (
        f"select sum(event_count), sum(revenue) from (select event_count, revenue from {name} where {of_run} "
        f"union all select event_count, revenue from {rollup} where {of_run_in_rollup} "
        f"and {LANDED} > (select coalesce(max({THROUGH}), -1) from {name}))"
    )


def checks(settings: Settings, manifest: Manifest) -> list[Check]:
    truth = manifest.truth
    where = OF_RUN_BY_SESSION.format(run=manifest.run_id)
    req = manifest.requests
    out = [Check("requests answered as expected", req.sent, req.answered_as_expected)]
    for table in stream_tables(settings.stream):
        name = table.name
        if table.role is Role.ALL_EVENTS:
            total, distinct = _once(settings, name, where)
            out.append(Check(f"{name}: rows", truth.events, total))
            out.append(Check(f"{name}: each event_id once", total, distinct))
            by_type = _grouped(settings, f"select event_type, count(*) from {name} where {where} group by 1")
            for event_type, n in truth.by_type.items():
                out.append(Check(f"{name}: {event_type}", n, by_type.get(event_type, 0)))
            revenue = query.run(settings, f"select sum(price) from {name} where {where}").scalar()
            out.append(Check(f"{name}: revenue", truth.revenue, Decimal(revenue or 0)))
            if truth.client_days:  # game time, and the late client times of the faults, kept
                days = _grouped(settings, f"select cast(client_ts as date), count(*) from {name} where {where} "
                                "and client_ts is not null group by 1")  # fmt: skip
                out.append(Check(f"{name}: events per client_ts day", truth.client_days, days))
        elif table.role is Role.ROUTED:
            total, distinct = _once(settings, name, where)
            out.append(Check(f"{name}: rows", truth.by_type.get(str(table.event_type), 0), total))
            out.append(Check(f"{name}: each event_id once", total, distinct))
            if table.event_type == "purchase_sword":
                swords = _grouped(settings, f"select sword_type, count(*) from {name} where {where} group by 1")
                out.append(Check(f"{name}: by sword_type", truth.sword_types, swords))
            if table.event_type == "join_guild":
                guilds = _grouped(settings, f"select guild_name, count(*) from {name} where {where} group by 1")
                out.append(Check(f"{name}: by guild_name", truth.guild_joins, guilds))
        elif table.rollup is not None:  # the events it counts: each once, per day, to the cent
            of_run = table.rollup.of_run.format(run=manifest.run_id)
            counted = query.run(settings, f"select sum(event_count), sum(revenue) from {name} where {of_run}").rows[0]
            out.append(Check(f"{name}: events counted", truth.events, int(counted[0] or 0)))
            out.append(Check(f"{name}: revenue", truth.revenue, Decimal(counted[1] or 0)))
            if truth.client_days:
                days = _grouped(settings, f"select day, sum(event_count) from {name} where {of_run} "
                                "and day is not null group by 1")  # fmt: skip
                out.append(Check(f"{name}: events per client_ts day", truth.client_days, days))
        elif table.lifetime is not None:  # with the rollup's rows landed since its fold: each event once
            of_run = table.lifetime.of_run.format(run=manifest.run_id)
            counted = query.run(settings, lifetime_totals(name, str(table.folds), of_run, where)).rows[0]
            out.append(Check(f"{name} with {table.folds} landed since: events counted", truth.events,
                             int(counted[0] or 0)))  # fmt: skip
            out.append(Check(f"{name} with {table.folds} landed since: revenue", truth.revenue,
                             Decimal(counted[1] or 0)))  # fmt: skip
        else:
            dead = query.count(settings, name, f"raw_event like '%{manifest.run_id}-%'")
            out.append(Check(f"{name}: the run's events", 0, dead))
    return out


def verify_until(settings: Settings, manifest: Manifest, wait_s: float) -> list[Check]:
    """Run the checks until they all pass or `wait_s` is over; the last results. Once all
    pass, how long after the run's last answer that was is saved (`Verified`)."""
    deadline = time.monotonic() + wait_s
    while True:
        results = checks(settings, manifest)
        if all(c.ok for c in results):
            break
        if time.monotonic() > deadline:
            return results
        time.sleep(settings.stream.trigger_seconds)
    if manifest.finished_at is None:
        return results
    # An upper bound of freshness: everything sent was visible this long after the last send.
    Verified(
        verified_at=time.time(),
        all_visible_within_s=round(time.time() - manifest.finished_at, 1),
        polled_every_s=settings.stream.trigger_seconds,
    ).save(run_dir(settings, manifest.run_id) / VERIFIED)
    return results
