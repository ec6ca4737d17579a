"""`gamepipe verify RUN`: reconcile a load run's manifest with the tables, through Trino.

In: `var/runs/<run>/manifest.json`. Out: a list of `Check`s (what, expected, found);
the command prints them and exits non-zero on any mismatch. A run's rows are found by
their `session_id` prefix (`<run>-`). Checked: every accepted event landed exactly once
in `events` (duplicates sent collapsed), per event type, in each routed table, per
sword type and guild, revenue to the cent; none of the run's events among the dead
letters; every request answered exactly as planned (200 for valid traffic, 400 / 413 for
the injected faults, after retries of 503s). Reads settings: trino.*, stream.*.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from gamepipe import query
from gamepipe.config import Settings


class VerifyError(RuntimeError):
    """The run cannot be verified at all (no manifest); not a mismatch."""


@dataclass(frozen=True)
class Check:
    what: str
    expected: Any
    found: Any

    @property
    def ok(self) -> bool:
        return bool(self.expected == self.found)


def load_manifest(settings: Settings, run: str) -> dict[str, Any]:
    path = Path(run) if run.endswith(".json") else settings.var / "runs" / run / "manifest.json"
    if not path.exists():
        runs = sorted(p.name for p in (settings.var / "runs").glob("*") if (p / "manifest.json").exists())
        raise VerifyError(f"no manifest at {path}; runs: {', '.join(runs[-5:]) or 'none yet (gamepipe load)'}")
    manifest: dict[str, Any] = json.loads(path.read_text())
    return manifest


def latest_run(settings: Settings) -> str:
    runs = sorted(p for p in (settings.var / "runs").glob("*") if (p / "manifest.json").exists())
    if not runs:
        raise VerifyError("no load run yet: `gamepipe load --scenario game` makes one")
    return runs[-1].name


def _grouped(settings: Settings, sql: str) -> dict[str, int]:
    return dict(sorted((str(k), int(v)) for k, v in query.run(settings, sql).rows))


def checks(settings: Settings, manifest: dict[str, Any]) -> list[Check]:
    truth = manifest["truth"]
    where = f"session_id like '{manifest['run_id']}-%'"
    routes = settings.stream.routes
    events_table = settings.stream.all_events_table or "events"
    out: list[Check] = []

    req = manifest["requests"]
    out.append(Check("requests answered as expected", req["sent"], req["answered_as_expected"]))

    total, distinct = query.run(
        settings, f"select count(*), count(distinct event_id) from {events_table} where {where}"
    ).rows[0]
    out.append(Check(f"{events_table}: rows", truth["events"], int(total)))
    out.append(Check(f"{events_table}: each event_id once", int(total), int(distinct)))
    by_type = _grouped(settings, f"select event_type, count(*) from {events_table} where {where} group by 1")
    for event_type, n in truth["by_type"].items():
        out.append(Check(f"{events_table}: {event_type}", n, by_type.get(event_type, 0)))
    for event_type, table in routes.items():
        landed = query.run(settings, f"select count(*) from {table} where {where}").scalar()
        out.append(Check(f"{table}: rows", truth["by_type"].get(event_type, 0), int(landed)))
    if "purchase_sword" in routes:
        swords = _grouped(
            settings, f"select sword_type, count(*) from {routes['purchase_sword']} where {where} group by 1"
        )
        out.append(Check(f"{routes['purchase_sword']}: by sword_type", truth["sword_types"], swords))
    if "join_guild" in routes:
        guilds = _grouped(settings, f"select guild_name, count(*) from {routes['join_guild']} where {where} group by 1")
        out.append(Check(f"{routes['join_guild']}: by guild_name", truth["guild_joins"], guilds))
    revenue = query.run(settings, f"select sum(price) from {events_table} where {where}").scalar()
    out.append(Check(f"{events_table}: revenue", Decimal(truth["revenue"]), Decimal(revenue or 0)))
    rejected = settings.stream.rejected_table
    if rejected:
        dead = query.run(settings, f"select count(*) from {rejected} where raw_event like '%{manifest['run_id']}-%'")
        out.append(Check(f"{rejected}: the run's events", 0, int(dead.scalar())))
    late = manifest["faults"]["late_client_ts"]
    if late:
        found = query.run(
            settings,
            f"select count(*) from {events_table} where {where} and client_ts < received_at - interval '2' day",
        ).scalar()
        out.append(Check(f"{events_table}: late client_ts kept", late, int(found)))
    return out
