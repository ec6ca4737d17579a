"""Ingest benchmark: our API against the seed's reference app, same broker, same run.

    gamepipe bench ingest        # or: make bench (every benchmark)

Needs the stack's Kafka (`gamepipe up`). Each app produces to a topic of its own, so
the streaming job stays idle. Rounds alternate reference / ours, so both see the same
machine state; a short warm-up round comes first and is not counted. Measured with
`ab`, as the targets state the figures:
- one event per request: `ab -c 64` on GET /purchase_a_sword (ours answers 2xx only
  after the broker's acks=all; the reference answers before Kafka has anything);
- batches: `ab -c 16 -p batch.json` of 100 events per POST /v1/events.
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

from bench.common import ROOT, save, stop, wait_http
from bench.common import out_dir as bench_dir
from gamepipe.config import Settings
from gamepipe.load import run_ab
from gamepipe.stack.apps import server_argv
from gamepipe.stack.base import free_port
from gamepipe.stack.kafka import ensure_topic
from gamepipe.stats import summary

BATCH_EVENTS = 100


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


def batch_file(path: Path) -> Path:
    events = [
        {
            "event_type": "purchase_sword",
            "player_id": f"p{i % 37}",
            "sword_type": "katana",
            "price": 9.99,
            "currency": "USD",
        }
        for i in range(BATCH_EVENTS)
    ]
    path.write_text(json.dumps({"events": events}))
    return path


def run(settings: Settings, runs: int = 3, quick: bool = False) -> None:
    """`runs` alternating rounds; `quick`: a few hundred requests, to check the harness."""
    requests, reference_requests, batches = (500, 200, 50) if quick else (30000, 5000, 3000)
    out_dir = bench_dir(settings)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    ref_topic, our_topic = f"bench-ref-{stamp}", f"bench-ours-{stamp}"
    for topic in (ref_topic, our_topic):
        ensure_topic(settings.kafka, topic)
    body = batch_file(out_dir / "batch.json")

    ref_port, our_port = free_port(), free_port()
    ref = start_reference(settings, ref_topic, ref_port, out_dir / "reference.log")
    ours = start_ours(settings, our_topic, our_port, out_dir / "ours.log")
    results: dict[str, list[dict[str, Any]]] = {"reference": [], "ours": [], "ours_batch": []}
    try:
        # One short round first, not counted: JIT, connections and page cache warm up.
        run_ab(f"http://127.0.0.1:{ref_port}/purchase_a_sword", 500, 64)
        run_ab(f"http://127.0.0.1:{our_port}/purchase_a_sword", 5000, 64)
        run_ab(f"http://127.0.0.1:{our_port}/v1/events", 500, 16, body=body)
        for n in range(1, runs + 1):
            r = run_ab(f"http://127.0.0.1:{ref_port}/purchase_a_sword", reference_requests, 64)
            o = run_ab(f"http://127.0.0.1:{our_port}/purchase_a_sword", requests, 64)
            b = run_ab(f"http://127.0.0.1:{our_port}/v1/events", batches, 16, body=body)
            for key, stats in (("reference", r), ("ours", o), ("ours_batch", b)):
                results[key].append(
                    {
                        "rps": stats.requests_per_s,
                        "ok": stats.ok,
                        "complete": stats.complete,
                        "failed": stats.failed,
                        "non_2xx": stats.non_2xx,
                        "p50_ms": stats.percentiles_ms.get(50),
                        "p99_ms": stats.percentiles_ms.get(99),
                    }
                )
            print(
                f"run {n}/{runs}: reference {r.requests_per_s:,.0f} req/s | ours {o.requests_per_s:,.0f} req/s"
                f" ({o.complete - o.ok} not 2xx) | batches {b.requests_per_s * BATCH_EVENTS:,.0f} events/s",
                flush=True,
            )
    finally:
        stop(ref)
        stop(ours)

    ref_rps = [x["rps"] for x in results["reference"]]
    our_rps = [x["rps"] for x in results["ours"]]
    ratios = [o / r for o, r in zip(our_rps, ref_rps, strict=True)]
    report = {
        "workers": settings.api.workers,
        "single": {
            "reference_rps": summary(ref_rps),
            "ours_rps": summary(our_rps),
            "ratio": summary(ratios),
            "ours_failed_or_non_2xx": sum(x["complete"] - x["ok"] for x in results["ours"]),
        },
        "batch": {
            "events_per_s": summary([x["rps"] * BATCH_EVENTS for x in results["ours_batch"]]),
            "failed_or_non_2xx": sum(x["complete"] - x["ok"] for x in results["ours_batch"]),
        },
        "runs": results,
    }
    save(settings, "ingest", report)
