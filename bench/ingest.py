"""Ingest benchmark: our API against the seed's reference app, same broker, same run.

    gamepipe bench ingest        # or: make bench (every benchmark)

Needs the stack (`gamepipe up`). Ours is the stack's own API, producing to the topic the
stream consumes, with table care on its schedule: the pipeline as users run it. The
reference app produces to a topic of its own. Rounds alternate reference / ours, so both
see the same machine state; a short warm-up round comes first and is not counted.
Measured with `ab`, as the targets state the figures:
- one event per request: `ab -c 64` on GET /purchase_a_sword (ours answers 2xx only
  after the broker's acks=all; the reference answers before Kafka has anything);
- batches: `ab -c 16 -p batch.json` of 100 events per POST /v1/events.
Before each arm the stream works off what the last one sent, so an arm competes only
with the stream consuming its own events (and table care, when a round falls in it: the
rounds it did are recorded). Every event ours accepted must then land in
`sword_purchases` (they carry a session id of their own). A third arm, our
API in a process of its own on a topic nobody consumes, is kept as a labelled row: the
figure this benchmark reported before (no user runs that way).
Writes var/bench/ingest.json (bench.doc puts it in docs/benchmarks.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, BenchFailed, care_running, save, stop, wait_http
from bench.common import out_dir as bench_dir
from gamepipe.config import Settings
from gamepipe.landing import wait_caught_up, wait_landed
from gamepipe.load import AbStats, run_ab
from gamepipe.stack.apps import server_argv
from gamepipe.stack.base import free_port
from gamepipe.stack.kafka import ensure_topic
from gamepipe.stats import summary

BATCH_EVENTS = 100
ON_STACK = {"ours": 1, "ours_batch": BATCH_EVENTS}  # the arms that send to the stack's API: events per request
WARM_UP = {"reference": 500, "ours": 5000, "ours_batch": 500, "ours_idle_topic": 5000}  # requests, not counted


def start_reference(settings: Settings, topic: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, BENCH_KAFKA=settings.kafka.bootstrap, BENCH_TOPIC=topic, FLASK_APP="seed_reference_app.py")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "flask"), "run", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT / "bench",
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    wait_http(f"http://127.0.0.1:{port}/", proc)
    return proc


def start_ours(settings: Settings, topic: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    own = settings.model_copy(update={"kafka": settings.kafka.model_copy(update={"topic": topic})})
    env = {**os.environ, **own.hand_down("bench-api")}
    proc = subprocess.Popen(
        server_argv("127.0.0.1", port, settings.api.workers, settings.var),
        cwd=settings.var,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    wait_http(f"http://127.0.0.1:{port}/readyz", proc)
    return proc


def batch_file(path: Path, session_id: str | None = None) -> Path:
    events = [
        {
            "event_type": "purchase_sword",
            **({"session_id": session_id} if session_id else {}),
            "player_id": f"p{i % 37}",
            "sword_type": "katana",
            "price": 9.99,
            "currency": "USD",
        }
        for i in range(BATCH_EVENTS)
    ]
    path.write_text(json.dumps({"events": events}))
    return path


def stats(result: AbStats) -> dict[str, Any]:
    return {
        "rps": result.requests_per_s,
        "ok": result.ok,
        "complete": result.complete,
        "failed": result.failed,
        "non_2xx": result.non_2xx,
        "p50_ms": result.percentiles_ms.get(50),
        "p99_ms": result.percentiles_ms.get(99),
    }


def run(settings: Settings, runs: int = 3, quick: bool = False) -> None:
    """`runs` alternating rounds; `quick`: a few hundred requests, to check the harness."""
    requests, reference_requests, batches = (500, 200, 50) if quick else (30000, 5000, 3000)
    out_dir = bench_dir(settings)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    session_id = f"ingest-{stamp}"  # every event ours sends to the stack, to count them landed
    ref_topic, idle_topic = f"bench-ref-{stamp}", f"bench-idle-{stamp}"
    for topic in (ref_topic, idle_topic):
        ensure_topic(settings.kafka, topic)
    body = batch_file(out_dir / "batch.json", session_id)

    stack = f"http://{settings.api.host}:{settings.api.port}"
    ref_port, idle_port = free_port(), free_port()
    ref = start_reference(settings, ref_topic, ref_port, out_dir / "reference.log")
    idle = start_ours(settings, idle_topic, idle_port, out_dir / "ours-idle.log")
    arms = {
        "reference": (f"http://127.0.0.1:{ref_port}/purchase_a_sword", reference_requests, 64, None),
        "ours": (f"{stack}/purchase_a_sword?session_id={session_id}", requests, 64, None),
        "ours_batch": (f"{stack}/v1/events", batches, 16, body),
        "ours_idle_topic": (f"http://127.0.0.1:{idle_port}/purchase_a_sword", requests, 64, None),
    }
    results: dict[str, list[dict[str, Any]]] = {arm: [] for arm in arms}
    sent_to_stack = 0  # events ours accepted on the stack's topic, the warm-up's included
    try:
        # One short round first, not counted: JIT, connections and page cache warm up.
        for arm, (url, count, concurrency, data) in arms.items():
            warm = run_ab(url, min(count, WARM_UP[arm]), concurrency, body=data)
            sent_to_stack += warm.ok * ON_STACK.get(arm, 0)
        for n in range(1, runs + 1):
            now, care = {}, {}
            for arm, (url, count, c, data) in arms.items():
                wait_caught_up(settings)  # each arm with the stream consuming its own events, no backlog
                before = care_running(settings)
                now[arm] = run_ab(url, count, c, body=data)
                care[arm] = before or care_running(settings)
            sent_to_stack += sum(now[arm].ok * events for arm, events in ON_STACK.items())
            for arm, result in now.items():
                results[arm].append({**stats(result), "table_care": care[arm]})
            r, o, b, i = (now[a] for a in arms)
            print(
                f"run {n}/{runs}: reference {r.requests_per_s:,.0f} req/s | ours, stream consuming "
                f"{o.requests_per_s:,.0f} req/s ({o.complete - o.ok} not 2xx) | batches "
                f"{b.requests_per_s * BATCH_EVENTS:,.0f} events/s | ours, topic not consumed "
                f"{i.requests_per_s:,.0f} req/s"
                + (f" (table care ran during: {', '.join(a for a in arms if care[a])})" if any(care.values()) else ""),
                flush=True,
            )
    finally:
        stop(ref)
        stop(idle)
    began = time.monotonic()
    [landing] = wait_landed(settings, {"sword_purchases": sent_to_stack}, f"session_id = '{session_id}'", 600)
    catch_up_s = time.monotonic() - began
    if landing.landed != sent_to_stack:
        raise BenchFailed(f"ingest: {landing.landed:,} rows landed for {sent_to_stack:,} events accepted")

    def rps(arm: str) -> list[float]:
        return [x["rps"] for x in results[arm]]

    def not_2xx(arm: str) -> int:
        return sum(x["complete"] - x["ok"] for x in results[arm])

    report = {
        "workers": settings.api.workers,
        "single": {
            "reference_rps": summary(rps("reference")),
            "ours_rps": summary(rps("ours")),
            "ratio": summary([o / r for o, r in zip(rps("ours"), rps("reference"), strict=True)]),
            "ours_failed_or_non_2xx": not_2xx("ours"),
        },
        "batch": {
            "events_per_s": summary([x * BATCH_EVENTS for x in rps("ours_batch")]),
            "failed_or_non_2xx": not_2xx("ours_batch"),
        },
        "idle_topic": {
            "ours_rps": summary(rps("ours_idle_topic")),
            "ratio": summary([o / r for o, r in zip(rps("ours_idle_topic"), rps("reference"), strict=True)]),
            "failed_or_non_2xx": not_2xx("ours_idle_topic"),
        },
        "landed": {"accepted": sent_to_stack, "in_sword_purchases": landing.landed, "catch_up_s": catch_up_s},
        "runs": results,
    }
    save(settings, "ingest", report)
