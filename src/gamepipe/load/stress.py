"""The `stress` scenario: as many events as the API takes, for benchmarks.

One `ab` run POSTs the same 100-event batch (a slice of the game population, without
event ids: the server gives each copy its own) with `--concurrency` connections, for
`--duration` seconds or `--requests` batches. The manifest's ground truth is the batch
times the batches answered 2xx, so `gamepipe verify` reconciles a stress run too.
Reads settings: api.host, api.port, var.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from decimal import Decimal
from typing import Any

from gamepipe.config import Settings
from gamepipe.load.ab import ab_path, parse_ab
from gamepipe.load.game import run_id
from gamepipe.simulate import plan

STRESS_HOST = "stress.gamepipe.test"
BATCH = 100


def run_stress(
    settings: Settings, seed: int, concurrency: int, requests: int, duration_s: float | None
) -> dict[str, Any]:
    rid = run_id(seed)
    run_dir = settings.var / "runs" / rid
    run_dir.mkdir(parents=True, exist_ok=True)
    batch = [
        {k: v for k, v in e.items() if not k.startswith("_") and k != "event_id"} | {"session_id": f"{rid}-stress"}
        for e in plan(seed, 20, BATCH, run_id=rid).events
    ]
    body = run_dir / "stress-batch.json"
    body.write_text(json.dumps({"events": batch}))
    url = f"http://{settings.api.host}:{settings.api.port}/v1/events"
    argv = [ab_path(), "-q", "-c", str(concurrency), "-p", str(body), "-T", "application/json",
            "-H", f"Host: {STRESS_HOST}", "-H", "X-Gamepipe-Synthetic: 1"]  # fmt: skip
    # ab stops at whichever comes first: -n requests or -t seconds.
    argv += ["-n", str(requests if requests else 50_000_000)]
    if duration_s:
        argv += ["-t", str(duration_s)]
    started = time.monotonic()
    result = subprocess.run([*argv, url], capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    stats = parse_ab(result.stdout)
    n = stats.ok
    manifest = {
        "run_id": rid,
        "scenario": "stress",
        "seed": seed,
        "concurrency": concurrency,
        "truth": _truth(batch, n),
        "faults": {"malformed_bodies": 0, "oversize_events": 0, "duplicate_event_ids": 0, "late_client_ts": 0},
        "requests": {
            "sent": stats.complete,
            "by_kind": {"batch": stats.complete},
            "answered_as_expected": n,
            "unexpected_by_kind": {"batch": stats.complete - n} if stats.complete - n else {},
            "2xx": n,
            "non_2xx": stats.complete - n,
        },
        "accepted_events": n * len(batch),
        "elapsed_s": round(elapsed, 2),
        "requests_per_s": stats.requests_per_s,
        "events_per_s": round(stats.requests_per_s * len(batch), 1),
        "latency_ms": {f"p{p}": stats.percentiles_ms.get(p) for p in (50, 95, 99)}
        | {"max": stats.percentiles_ms.get(100), "note": "ab's own percentiles, per batch request"},
        "finished_at": time.time(),
    }
    (run_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def _truth(batch: list[dict[str, Any]], copies: int) -> dict[str, Any]:
    def times(counter: Counter[str]) -> dict[str, int]:
        return {k: v * copies for k, v in sorted(counter.items())}

    revenue = sum((Decimal(str(e["price"])) for e in batch if "price" in e), Decimal(0)) * copies
    players = {e["player_id"] for e in batch}
    return {
        "events": len(batch) * copies,
        "by_type": times(Counter(e["event_type"] for e in batch)),
        "sword_types": times(Counter(e["sword_type"] for e in batch if e["event_type"] == "purchase_sword")),
        "guild_joins": times(Counter(e["guild_name"] for e in batch if e["event_type"] == "join_guild")),
        "isps": {STRESS_HOST.split(".", 1)[1]: len(batch) * copies},
        "hosts": {STRESS_HOST: len(batch) * copies},
        "revenue": str(revenue),
        "players": len(players) if copies else 0,
        "population": len(players),
        "paying_players": len({e["player_id"] for e in batch if "price" in e}) if copies else 0,
    }
