"""Freshness: an event accepted by the API -> visible to Trino and to DuckDB.

Steady traffic (`bench.traffic`) at `--rate` events/s for `--seconds`. Two measures:
- probes, the headline: one event alone every second, from its 2xx to the end of the
  first Trino query, and of the first DuckDB read, that returns it (`Probes`): what a
  reader polling that engine waits, the query's own time included;
- every event: its table commit's time minus its `received_at` (stamped by the API on
  acceptance): when the commit made it visible, before any reader asks; the commit is
  found through the row's file (`$path`, `$entries`).
After the run, DuckDB must count every accepted event too (same commits, another
reader). Over the counted runs, what each stage of the stack spent (`bench.cost`).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx

from bench.common import BenchFailed, care_running, save
from bench.cost import CpuAccount
from bench.traffic import Traffic
from gamepipe import query
from gamepipe.config import Settings
from gamepipe.landing import wait_landed
from gamepipe.query import Engine
from gamepipe.stats import percentile, summary

TABLES = ("sword_purchases", "events")
ENGINES = ("trino", "duckdb")
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


@dataclass
class Probes:
    """Freshness as a reader sees it. Every `every_s` one event is sent alone; from its
    2xx, each engine's poller runs a query every `poll_s` for the probes' rows, and a
    probe is seen by an engine when the first query that returns it ends: the time a
    user polling that engine waits, query time included. One query per poll finds all
    pending probes at once, so many probes cost no more polling than one. DuckDB re-reads
    the catalog's current snapshot before each poll, as a fresh reader would."""

    settings: Settings
    every_s: float = 1.0
    poll_s: float = 0.5  # a Trino poll takes 0.15 s idle, 0.3-0.5 s under load; every 0.25 s took most of a core
    session_id: str = field(default_factory=lambda: f"probe-{uuid.uuid4().hex[:12]}")
    accepted: dict[str, float] = field(default_factory=dict)  # event id -> monotonic s at its 2xx
    seen: dict[str, dict[str, float]] = field(default_factory=lambda: {e: {} for e in ENGINES})
    polls: dict[str, list[float]] = field(default_factory=lambda: {e: [] for e in ENGINES})  # seconds per poll
    refused: int = 0
    during_care: int = 0  # accepted probes sent while a round of table care ran (its main source of variance)
    failures: list[str] = field(default_factory=list)  # a poller's error: its figures would be wrong
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        since = datetime.now(UTC) - timedelta(minutes=1)
        sql = (
            f"select event_id from sword_purchases where session_id = '{self.session_id}' "
            f"and received_at >= timestamp '{since:%Y-%m-%d %H:%M:%S} UTC'"
        )
        targets: list[Callable[[], None]] = [self._send, *(partial(self._poll, e, sql) for e in ENGINES)]
        self._threads = [threading.Thread(target=t, daemon=True) for t in targets]
        for thread in self._threads:
            thread.start()

    def _send(self) -> None:
        url = f"http://{self.settings.api.host}:{self.settings.api.port}/v1/events"
        with httpx.Client(timeout=30) as client:
            while not self._stop.wait(self.every_s):
                event_id = str(uuid.uuid4())
                event = {"event_type": "purchase_sword", "event_id": event_id, "session_id": self.session_id}
                try:
                    ok = client.post(url, json={"events": [{**event, "price": 1}]}).status_code == 200
                except httpx.HTTPError:
                    ok = False
                at = time.monotonic()  # the 2xx, before the status file is read
                care = ok and care_running(self.settings)
                with self._lock:
                    if ok:
                        self.accepted[event_id] = at
                        self.during_care += care
                    else:
                        self.refused += 1

    def _pending(self, engine: str) -> list[float]:
        with self._lock:
            return [at for event_id, at in self.accepted.items() if event_id not in self.seen[engine]]

    def _poll(self, engine: str, sql: str) -> None:
        try:
            self._poll_until_done(engine, sql)
        except Exception as error:  # noqa: BLE001 - said by stop(), in the benchmark's own thread
            self.failures.append(f"{engine}: {error!r}")

    def _poll_until_done(self, engine: str, sql: str) -> None:
        reader = Engine(self.settings, engine)
        while True:
            pending = self._pending(engine)
            if self._stop.is_set() and all(time.monotonic() - at > PROBE_GIVE_UP_S for at in pending):
                return  # every probe found, or given up on
            if not pending:  # nothing to look for: no query
                time.sleep(self.poll_s)
                continue
            began = time.monotonic()
            reader.refresh()
            rows = reader.run(sql).rows
            ended = time.monotonic()
            with self._lock:
                self.polls[engine].append(ended - began)
                for (event_id,) in rows:
                    if event_id in self.accepted:
                        self.seen[engine].setdefault(event_id, ended - self.accepted[event_id])
            time.sleep(self.poll_s)

    def stop(self) -> None:
        """Stop sending; wait until every probe is seen by both engines (or given up on)."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
        if self.failures:
            raise BenchFailed(f"freshness: a probe poller failed: {'; '.join(self.failures)}")

    def waits(self, engine: str) -> list[float]:
        return sorted(self.seen[engine].values())

    def missed(self, engine: str) -> int:
        return len(self.accepted) - len(self.seen[engine])


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


def one_run(settings: Settings, rate: int, seconds: float, probe_every_s: float = 1.0) -> dict[str, Any]:
    session_id = f"fresh-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    traffic = Traffic(settings, session_id, rate, batch=100)
    started = time.time()
    probes = Probes(settings, every_s=probe_every_s)
    probes.start()
    try:
        traffic.run_for(seconds)
    finally:
        probes.stop()
    catch_up_s = landed_after(settings, session_id, traffic.accepted)
    run: dict[str, Any] = {
        "session_id": session_id,
        "accepted": traffic.accepted,
        "failed": traffic.failed,
        "rate_sent": traffic.accepted / seconds,
        "sender_behind_s": traffic.behind_s,
        "catch_up_s": catch_up_s,
        "duckdb_counts": duckdb_counts(settings, session_id),
        "probes": len(probes.accepted),
        "probes_refused": probes.refused,
        "probes_during_care": probes.during_care,
        "probe_poll_s": probes.poll_s,
        # Where a probe's wait goes: accepted -> committed (as for every event), the rest is the reader's.
        "probe_committed_s": sorted(latencies(settings, "sword_purchases", probes.session_id, started)[0]),
        **{f"probe_{e}_s": probes.waits(e) for e in ENGINES},
        **{f"probe_{e}_missed": probes.missed(e) for e in ENGINES},
        **{f"probe_{e}_poll_s": percentiles(probes.polls[e]) for e in ENGINES},
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


def percentiles(values: list[float]) -> dict[str, float | None]:
    return {"p50_s": percentile(values, 50), "p99_s": percentile(values, 99)}


def said(waits: list[float]) -> str:
    """`n probes, p50 … s p99 … s` for a run's log line."""
    p = percentiles(waits)
    return f"{len(waits)} probes" + "".join(f", {k[:3]} {v:.2f} s" for k, v in p.items() if v is not None)


# The warm-up: traffic at the run's rate, with the probes' readers polling, in chunks until
# the stream's commit latency stops falling. On 2026-12-03 (AMD EPYC, a stack just started)
# a fixed 30 s of traffic alone left the first counted run the slowest in every arm:
# committed p50 of the three runs 5.21 / 3.18 / 3.47, 3.59 / 2.55 / 2.09, 2.50 / 1.58 / 1.31
# and 5.58 / 2.84 / 1.89 s. Chunks of traffic alone settled at 1.38 s within 120 s, and the
# first run with the readers polling then took 4.88 s: their start is the cost.
WARM_CHUNK_S = 30.0
WARM_MOST_S = 300.0
SETTLED = 0.9  # a chunk whose p50 is above 90 % of the one before: no longer falling


def warm_up(settings: Settings, rate: int, chunk_s: float = WARM_CHUNK_S, most_s: float = WARM_MOST_S) -> list[float]:
    """Send traffic in chunks of `chunk_s` until a chunk's committed p50 (`events`) is no
    longer below `SETTLED` times the one before, or `most_s` have passed; each chunk's p50."""
    p50s: list[float] = []
    while len(p50s) * chunk_s < most_s:
        traffic = Traffic(settings, f"fresh-warm-up-{uuid.uuid4().hex[:6]}", rate, batch=100)
        started = time.time()
        probes = Probes(settings)  # the readers warm up too: their first polls are compiled under load
        probes.start()
        try:
            traffic.run_for(chunk_s)
        finally:
            probes.stop()
        landed_after(settings, traffic.session_id, traffic.accepted)
        values, _ = latencies(settings, "events", traffic.session_id, started)
        p50 = percentile(values, 50)
        if p50 is None:
            raise BenchFailed(f"freshness: no warm-up event found committed ({traffic.accepted:,} accepted)")
        p50s.append(p50)
        print(f"freshness warm-up {len(p50s) * chunk_s:.0f} s: committed p50 {p50s[-1]:.2f} s", flush=True)
        if len(p50s) >= 2 and p50s[-1] >= SETTLED * p50s[-2]:
            break
    return p50s


def run(
    settings: Settings, rate: int = 5000, seconds: float = 60, runs: int = 3, warm_up_s: float = WARM_MOST_S
) -> None:
    # Steady state is the figure: the JVMs compile their hot paths and the readers start
    # under load, so traffic and probes run uncounted until commit latency settles (`warm_up`).
    chunk_s = min(WARM_CHUNK_S, warm_up_s)
    warm = warm_up(settings, rate, chunk_s=chunk_s, most_s=warm_up_s)
    results = []
    cpu = CpuAccount(settings)
    cpu.start()
    try:
        for n in range(1, runs + 1):
            r = one_run(settings, rate, seconds)
            results.append(r)
            print(
                f"freshness run {n}/{runs}: {r['rate_sent']:,.0f} events/s accepted; committed after: "
                f"sword_purchases p50 {r['sword_purchases']['p50_s']:.2f} s p99 {r['sword_purchases']['p99_s']:.2f} s, "
                f"events p50 {r['events']['p50_s']:.2f} s p99 {r['events']['p99_s']:.2f} s; "
                + "; ".join(f"{e} saw {said(r[f'probe_{e}_s'])}" for e in ENGINES),
                flush=True,
            )
    finally:
        cpu.stop()

    def worst(key: str) -> list[float]:
        return [max(r[t][key] for t in TABLES) for r in results]

    def probes(engine: str) -> list[float]:
        return [x for r in results for x in r[f"probe_{engine}_s"]]

    save(
        settings,
        "freshness",
        {
            "rate": rate,
            "seconds": seconds,
            "warm_up_s": len(warm) * chunk_s,
            "warm_up_p50_s": warm,
            "trigger_s": settings.stream.trigger_seconds,
            "p50_s": summary(worst("p50_s")),
            "p99_s": summary(worst("p99_s")),
            # Over every probe of every run: the figure a reader sees.
            **{f"probe_{e}": {"n": len(probes(e)), **percentiles(probes(e))} for e in ENGINES},
            "cost": cpu.result(sum(r["accepted"] + r["probes"] for r in results)),
            "runs": results,
        },
    )
