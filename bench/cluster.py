"""The cluster profile side by side with the single-node one, in the same run.

    gamepipe bench cluster        # stops whatever stack runs; leaves the single one up

For each profile in turn (`single`, then `cluster`): the stack started alone, then
- ingest: our API in a process of its own on a topic of its own (as `bench ingest`'s
  unconsumed-topic arm), `ab -c 64` on GET /purchase_a_sword and `ab -c 16` with 100 events per
  POST /v1/events: every 2xx after the profile's acks (one broker, or two of three);
- freshness: steady traffic at `rate` events/s for `seconds`, received -> committed per
  event p50/p99 and probes found by Trino and DuckDB (as `bench freshness` measures
  them), every accepted event counted back;
- memory: the peak RSS of every service (each node) and of the whole stack, sampled
  during the freshness run.
Both profiles share this machine's two cores: the cluster's figures say what its extra
processes cost here, not what real machines would reach.
Writes var/bench/cluster.json (bench.doc puts it in docs/benchmarks.md).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from bench.common import out_dir, save, stop
from bench.freshness import landed_after, one_run
from bench.ingest import BATCH_EVENTS, batch_file, start_ours
from bench.memory import GIB, PeakRss
from bench.traffic import Traffic
from gamepipe.config import Settings, forget_profile, load_settings, record_profile
from gamepipe.load import run_ab
from gamepipe.stack import manager
from gamepipe.stack.base import free_port
from gamepipe.stack.kafka import ensure_topic
from gamepipe.stack.supervisor import Supervisor

PROFILES = ("single", "cluster")


def start_alone(name: str) -> Settings:
    """Stop every profile's stack that runs, then start `name`'s and wait until healthy."""
    for other in (*PROFILES, "hdfs"):
        s = load_settings(profile=other)
        if Supervisor(s).running():
            print(f"bench cluster: stopping the {other} stack", flush=True)
            manager.down(s)
    forget_profile()
    record_profile(name)
    settings = load_settings(profile=name)
    began = time.monotonic()
    print(f"bench cluster: starting the {name} stack", flush=True)
    manager.up(settings)
    print(f"bench cluster: {name} up in {time.monotonic() - began:.0f} s", flush=True)
    return settings


def ingest(settings: Settings, requests: int, batches: int, name: str) -> dict[str, Any]:
    topic = f"bench-{name}-{time.strftime('%Y%m%dT%H%M%S')}"
    ensure_topic(settings.kafka, topic)
    directory = out_dir(settings)
    port = free_port()
    api = start_ours(settings, topic, port, directory / f"{name}-api.log")
    body = batch_file(directory / "batch.json")
    try:
        run_ab(f"http://127.0.0.1:{port}/purchase_a_sword", 2000, 64)  # warm-up, not counted
        one = run_ab(f"http://127.0.0.1:{port}/purchase_a_sword", requests, 64)
        many = run_ab(f"http://127.0.0.1:{port}/v1/events", batches, 16, body=body)
    finally:
        stop(api)
    return {
        "rps": one.requests_per_s,
        "p50_ms": one.percentiles_ms.get(50),
        "p99_ms": one.percentiles_ms.get(99),
        "failed_or_non_2xx": one.complete - one.ok,
        "batch_events_per_s": many.requests_per_s * BATCH_EVENTS,
        "batch_failed_or_non_2xx": many.complete - many.ok,
    }


def measure(settings: Settings, name: str, rate: int, seconds: float, requests: int, batches: int) -> dict[str, Any]:
    result: dict[str, Any] = {"ingest": ingest(settings, requests, batches, name)}
    print(f"bench cluster: {name} ingest {result['ingest']}", flush=True)
    warm = Traffic(settings, f"cluster-warm-up-{uuid.uuid4().hex[:6]}", rate, batch=100)
    warm.run_for(min(30.0, seconds / 2))
    landed_after(settings, warm.session_id, warm.accepted)
    rss = PeakRss(settings)
    rss.start()
    try:
        fresh = one_run(settings, rate, seconds)
    finally:
        rss.stop()
    result["freshness"] = {
        "accepted": fresh["accepted"],
        "rate_sent": fresh["rate_sent"],
        "p50_s": max(fresh[t]["p50_s"] for t in ("sword_purchases", "events")),
        "p99_s": max(fresh[t]["p99_s"] for t in ("sword_purchases", "events")),
        "catch_up_s": fresh["catch_up_s"],
        **{k: fresh[k] for k in ("probe_trino_s", "probe_duckdb_s", "probe_trino_missed", "probe_duckdb_missed")},
    }
    result["memory"] = {
        "services": len(rss.pids),
        "at_rest_gib": sum(rss.at_rest.values()) / GIB,
        "peak_total_gib": rss.peak_total / GIB,
        "peak_gib": {k: v / GIB for k, v in rss.peaks.items()},
    }
    print(
        f"bench cluster: {name} freshness p50 {result['freshness']['p50_s']:.2f} s p99 "
        f"{result['freshness']['p99_s']:.2f} s; memory peak {rss.peak_total / GIB:.2f} GiB",
        flush=True,
    )
    return result


def run(rate: int = 2000, seconds: float = 60, requests: int = 20000, batches: int = 2000) -> None:
    profiles: dict[str, Any] = {}
    for name in PROFILES:
        settings = start_alone(name)
        try:
            profiles[name] = measure(settings, name, rate, seconds, requests, batches)
        except BaseException:
            manager.down(settings)  # nothing of a failed run left running, nor recorded
            forget_profile()
            raise
    start_alone("single")  # the stack the other benchmarks and `make demo` expect
    save(
        load_settings(profile="single"),
        "cluster",
        {"rate": rate, "seconds": seconds, "requests": requests, "batches": batches, "profiles": profiles},
    )
