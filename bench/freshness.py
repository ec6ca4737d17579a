"""Freshness: an event accepted by the API -> visible to Trino and to DuckDB.

Steady traffic (`bench.traffic`) at `--rate` events/s for `--seconds`. Two measures:
- every event: its table commit's time minus its `received_at` (stamped by the API on
  acceptance). A query sees an Iceberg commit as soon as it exists (both engines load
  the table's current snapshot from the catalog per query), so this is when the event
  became visible; the commit is found through the row's file (`$path`, `$entries`);
- probes: one event every 15 s, polled for by a Trino query until found: what a
  reader really waits, query time included.
After the run, DuckDB must count every accepted event too (same commits, another reader).
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from bench.common import BenchFailed, save
from bench.traffic import Traffic
from gamepipe import query
from gamepipe.config import Settings
from gamepipe.landing import wait_landed
from gamepipe.query import Engine
from gamepipe.stats import percentile, summary

TABLES = ("sword_purchases", "events")
PROBE_GIVE_UP_S = 120.0
WARM_UP_S = 5.0  # events in the first seconds are not counted: the JVM is still warming


def latencies(settings: Settings, table: str, session_id: str, since: float) -> tuple[list[float], int]:
    """Per event of the session received after `since` (epoch s): commit time minus
    received time, in seconds; and how many rows sat in files a compaction rewrote."""
    rows = query.run(
        settings,
        f"""with added as (
  select data_file.file_path as path, snapshot_id from "{table}$entries" where status <> 2
)
select to_unixtime(t.received_at), to_unixtime(s.committed_at), s.operation
from {table} t
join added a on t."$path" = a.path
join "{table}$snapshots" s on s.snapshot_id = a.snapshot_id
where t.session_id = '{session_id}' and t.received_at >= from_unixtime({since})""",
    ).rows
    return [committed - received for received, committed, op in rows if op == "append"], sum(
        1 for *_, op in rows if op != "append"
    )


def trino_probes(settings: Settings, stop: threading.Event, every_s: float) -> list[float | None]:
    """Every `every_s` until `stop`: send one event alone and poll Trino for it (every
    0.5 s) until found. Seconds from sending to found, query time included. Sparse on
    purpose: a poller that never rests would take the CPU the stream needs."""
    url = f"http://{settings.api.host}:{settings.api.port}/v1/events"
    seen: list[float | None] = []
    while not stop.wait(every_s):
        event_id = str(uuid.uuid4())
        event = {"event_type": "purchase_sword", "event_id": event_id, "session_id": "probe", "price": 1}
        sent = time.monotonic()
        if httpx.post(url, json={"events": [event]}, timeout=30).status_code != 200:
            continue
        sql = f"select count(*) from sword_purchases where event_id = '{event_id}'"
        while not int(query.run(settings, sql).scalar()) and time.monotonic() - sent < PROBE_GIVE_UP_S:
            time.sleep(0.5)
        waited = time.monotonic() - sent
        seen.append(waited if waited < PROBE_GIVE_UP_S else None)  # None: never seen, not a figure
    return seen


def duckdb_counts(settings: Settings, session_id: str) -> dict[str, int]:
    """The session's rows per table as DuckDB sees them (PyIceberg's scan of the
    catalog's current snapshot): the same commits Trino sees."""
    engine = Engine(settings, "duckdb")
    return {t: int(engine.run(f"select count(*) from {t} where session_id = '{session_id}'").scalar()) for t in TABLES}


def landed_after(settings: Settings, session_id: str, expected: int) -> float:
    """Seconds until every accepted event of the session is in both tables."""
    started = time.monotonic()
    wait_landed(settings, dict.fromkeys(TABLES, expected), f"session_id = '{session_id}'", timeout_s=600)
    return time.monotonic() - started


def one_run(settings: Settings, rate: int, seconds: float, probe_every_s: float) -> dict[str, Any]:
    session_id = f"fresh-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    traffic = Traffic(settings, session_id, rate, batch=100)
    started = time.time()
    stop = threading.Event()
    probes: list[float | None] = []
    prober = threading.Thread(target=lambda: probes.extend(trino_probes(settings, stop, probe_every_s)), daemon=True)
    prober.start()
    traffic.run_for(seconds)
    stop.set()
    prober.join()
    catch_up_s = landed_after(settings, session_id, traffic.accepted)
    run: dict[str, Any] = {
        "session_id": session_id,
        "accepted": traffic.accepted,
        "failed": traffic.failed,
        "rate_sent": traffic.accepted / seconds,
        "sender_behind_s": traffic.behind_s,
        "catch_up_s": catch_up_s,
        "duckdb_counts": duckdb_counts(settings, session_id),
        "probe_trino_s": [x for x in probes if x is not None],
        "probe_trino_missed": probes.count(None),
    }
    for table in TABLES:
        values, rewritten = latencies(settings, table, session_id, started + WARM_UP_S)
        run[table] = {
            "events": len(values),
            "rewritten": rewritten,
            "p50_s": percentile(values, 50),
            "p99_s": percentile(values, 99),
            "max_s": max(values),
        }
    missing = {t: n for t, n in run["duckdb_counts"].items() if n != traffic.accepted}
    if missing:
        raise BenchFailed(f"freshness: DuckDB sees {missing} rows of {traffic.accepted} accepted")
    return run


def run(
    settings: Settings,
    rate: int = 5000,
    seconds: float = 60,
    runs: int = 3,
    probe_every_s: float = 15,
    warm_up_s: float = 30,
) -> None:
    # Steady state is the figure: the stream's JVM compiles its hot paths in the first
    # tens of seconds of load, so a first stretch at the same rate is not counted.
    warm = Traffic(settings, f"fresh-warm-up-{uuid.uuid4().hex[:6]}", rate, batch=100)
    warm.run_for(warm_up_s)
    landed_after(settings, warm.session_id, warm.accepted)
    results = []
    for n in range(1, runs + 1):
        r = one_run(settings, rate, seconds, probe_every_s)
        results.append(r)
        print(
            f"freshness run {n}/{runs}: {r['rate_sent']:,.0f} events/s accepted; sword_purchases p50 "
            f"{r['sword_purchases']['p50_s']:.2f} s p99 {r['sword_purchases']['p99_s']:.2f} s; events p50 "
            f"{r['events']['p50_s']:.2f} s p99 {r['events']['p99_s']:.2f} s; Trino probes "
            f"{', '.join(f'{x:.1f}' for x in r['probe_trino_s'])} s",
            flush=True,
        )

    def worst(key: str) -> list[float]:
        return [max(r[t][key] for t in TABLES) for r in results]

    save(
        settings,
        "freshness",
        {
            "rate": rate,
            "seconds": seconds,
            "warm_up_s": warm_up_s,
            "trigger_s": settings.stream.trigger_seconds,
            "p50_s": summary(worst("p50_s")),
            "p99_s": summary(worst("p99_s")),
            "probe_trino_s": summary([x for r in results for x in r["probe_trino_s"]] or [float("nan")]),
            "runs": results,
        },
    )
