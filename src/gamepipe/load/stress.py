"""The `stress` scenario: as many events as the API takes, for benchmarks.

One `ab` run POSTs the same 100-event batch (a slice of the game population, without
event ids: the server gives each copy its own) with `--concurrency` connections, for
`--duration` seconds or `--requests` batches. The manifest's ground truth is the batch
times the batches answered 2xx, so `gamepipe verify` reconciles a stress run too.
Reads settings: api.host, api.port, var.
"""

from __future__ import annotations

import json
import time

from gamepipe.config import Settings
from gamepipe.load.ab import run_ab
from gamepipe.load.game import run_id
from gamepipe.manifest import MANIFEST, Faults, Latency, Manifest, Requests, Truth, run_dir
from gamepipe.simulate import plan

STRESS_HOST = "stress.gamepipe.test"
BATCH = 100
UNBOUNDED = 50_000_000  # `ab -n` when only a duration bounds the run


def run_stress(settings: Settings, seed: int, concurrency: int, requests: int, duration_s: float | None) -> Manifest:
    rid = run_id(seed)
    the_run = run_dir(settings, rid)
    the_run.mkdir(parents=True, exist_ok=True)
    events = [
        {k: v for k, v in e.items() if k not in ("_host", "event_id")} | {"session_id": f"{rid}-stress"}
        for e in plan(seed, 20, BATCH, run_id=rid).events
    ]
    body = the_run / "stress-batch.json"
    body.write_text(json.dumps({"events": events}))
    url = f"http://{settings.api.host}:{settings.api.port}/v1/events"
    headers = {"Host": STRESS_HOST, "X-Gamepipe-Synthetic": "1"}
    started = time.monotonic()
    stats = run_ab(url, requests or UNBOUNDED, concurrency, headers, body, duration_s)
    elapsed = time.monotonic() - started
    n = stats.ok
    manifest = Manifest.of(
        run_id=rid,
        scenario="stress",
        seed=seed,
        concurrency=concurrency,
        truth=Truth.of([e | {"_host": STRESS_HOST} for e in events], len({e["player_id"] for e in events}), n),
        faults=Faults(),
        requests=Requests(
            sent=stats.complete,
            by_kind={"batch": stats.complete},
            answered_as_expected=n,
            unexpected_by_kind={"batch": stats.complete - n} if stats.complete - n else {},
            ok=n,
            non_2xx=stats.complete - n,
        ),
        accepted_events=n * len(events),
        elapsed_s=elapsed,
        requests_per_s=stats.requests_per_s,
        events_per_s=round(stats.requests_per_s * len(events), 1),  # ab's own rate, as ab measured it
        latency_ms=Latency(
            p50=stats.percentiles_ms.get(50),
            p95=stats.percentiles_ms.get(95),
            p99=stats.percentiles_ms.get(99),
            max=stats.percentiles_ms.get(100),
            note="ab's own percentiles, per batch request",
        ),
    )
    manifest.save(the_run / MANIFEST)
    return manifest
