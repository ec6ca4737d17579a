"""The `game` scenario: a seeded population's events, sent through the API with `ab`.

In: seed, players, events, concurrency, faults. Out: a run directory
`var/runs/<run_id>/` with the batch files sent and `manifest.json`, the ground truth
(`simulate.Plan.truth`) plus what was sent and how it was answered; `gamepipe verify`
reconciles it with the tables.

How it is sent: the first sessions' visits as GET on the seed's `/` route (one `ab` per
visit: Host header, `player_id`, `session_id`), everything else as POST /v1/events
batches of 100 events from one player (`ab -p`), many `ab` processes in parallel.
Faults, on request, each sent by its own `ab` and counted: malformed bodies (400),
oversize events (413), duplicate event ids (accepted, must land once), late client
timestamps (accepted, must land). Reads settings: api.host, api.port, var.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from gamepipe.config import Settings
from gamepipe.load.ab import AbStats, ab_path, parse_ab
from gamepipe.simulate import Plan, plan

BATCH = 100
GET_SHARE = 0.05  # of the events, sent as the seed's GET visits (at most MAX_GETS)
MAX_GETS = 2000
LATE_BY = timedelta(days=3)


@dataclass(frozen=True)
class Call:
    """One `ab` invocation: what it sends and what it should get."""

    kind: str  # visit | batch | malformed | oversize | duplicates
    host: str
    path: str
    body: str | None  # file to POST
    events: int  # events it carries
    expect: int  # the status it should be answered with


@dataclass(frozen=True)
class Answer:
    call: Call
    ok: bool  # answered with the expected status
    status_2xx: bool
    latency_ms: float | None


def run_id(seed: int) -> str:
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-s{seed}"


def make_calls(the_plan: Plan, run_dir: Path, faults: int) -> list[Call]:
    """Turn the plan into `ab` calls, writing the batch files under run_dir/batches."""
    batches = run_dir / "batches"
    batches.mkdir(parents=True, exist_ok=True)
    events = the_plan.events
    if faults:
        # Late client timestamps: real events, sent as if queued on a phone for 3 days.
        late = (datetime.now(UTC) - LATE_BY).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        for event in events[1 : 1 + faults]:
            event["client_ts"] = late
    calls: list[Call] = []
    gets = min(int(len(events) * GET_SHARE), MAX_GETS)
    visits = [e for e in events if e["event_type"] == "default"][:gets]
    visit_ids = {e["event_id"] for e in visits}
    for e in visits:
        params: dict[str, str] = {k: e[k] for k in ("player_id", "session_id", "client_ts") if k in e}
        query = urlencode(params)
        calls.append(Call("visit", e["_host"], f"/?{query}", None, 1, 200))
    by_host: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        if e["event_id"] not in visit_ids:
            by_host.setdefault(e["_host"], []).append(e)
    n = 0
    for host, host_events in by_host.items():
        for chunk in _chunks(host_events, BATCH):
            n += 1
            calls.append(Call("batch", host, "/v1/events", _write(batches / f"{n:06d}.json", chunk), len(chunk), 200))
    for i in range(faults):
        bad = batches / f"malformed-{i}.json"
        bad.write_text('{"events": [{"event_type": "default",')
        calls.append(Call("malformed", "faults.example", "/v1/events", str(bad), 0, 400))
        big = [{"event_type": "purchase_sword", "session_id": f"{the_plan.run_id}-oversize", "sword_type": "x" * 40000}]
        calls.append(
            Call("oversize", "faults.example", "/v1/events", _write(batches / f"oversize-{i}.json", big), 0, 413)
        )
    if faults:
        # Re-send already planned events, same ids: a client retrying. They land once.
        again = [e for e in events if e["event_id"] not in visit_ids][:faults]
        calls.append(Call("duplicates", again[0]["_host"], "/v1/events", _write(batches / "dup.json", again), 0, 200))
    return calls


def _chunks(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _write(path: Path, events: list[dict[str, Any]]) -> str:
    body = [{k: v for k, v in e.items() if not k.startswith("_")} for e in events]
    path.write_text(json.dumps({"events": body}))
    return str(path)


def send(settings: Settings, call: Call) -> Answer:
    url = f"http://{settings.api.host}:{settings.api.port}{call.path}"
    argv = [ab_path(), "-q", "-n", "1", "-c", "1", "-H", f"Host: {call.host}", "-H", "X-Gamepipe-Synthetic: 1"]
    if call.body:
        argv += ["-p", call.body, "-T", "application/json"]
    result = subprocess.run([*argv, url], capture_output=True, text=True, check=False)
    stats: AbStats = parse_ab(result.stdout)
    got_2xx = stats.ok == 1
    ok = got_2xx if call.expect < 300 else (stats.non_2xx == 1)
    return Answer(call, ok, got_2xx, stats.mean_ms)


def run_game(
    settings: Settings,
    seed: int,
    players: int,
    events: int,
    concurrency: int,
    faults: int,
    progress: Callable[[int, int, int], None] | None = None,
) -> dict[str, Any]:
    """Plan, send, write the manifest; returns it. `progress(events_sent, answered_ok, errors)`."""
    rid = run_id(seed)
    run_dir = settings.var / "runs" / rid
    the_plan = plan(seed, players, events, run_id=rid)
    calls = make_calls(the_plan, run_dir, faults)
    answers: list[Answer] = []
    sent = errors = 0
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [pool.submit(send, settings, c) for c in calls]
        for fut in as_completed(futures):
            answer = fut.result()
            answers.append(answer)
            sent += answer.call.events
            errors += 0 if answer.ok else 1
            if progress:
                progress(sent, len(answers) - errors, errors)
    elapsed = time.monotonic() - started
    manifest = _manifest(the_plan, calls, answers, elapsed, faults, concurrency)
    (run_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def _manifest(
    the_plan: Plan, calls: list[Call], answers: list[Answer], elapsed: float, faults: int, concurrency: int
) -> dict[str, Any]:
    by_kind: Counter[str] = Counter(c.kind for c in calls)
    unexpected = Counter(a.call.kind for a in answers if not a.ok)
    latencies = sorted(a.latency_ms for a in answers if a.latency_ms is not None)
    accepted_events = sum(a.call.events for a in answers if a.status_2xx and a.call.kind in ("visit", "batch"))
    return {
        "run_id": the_plan.run_id,
        "scenario": "game",
        "seed": the_plan.seed,
        "players": len(the_plan.players),
        "concurrency": concurrency,
        "truth": the_plan.truth(),
        "faults": {
            "malformed_bodies": faults,
            "oversize_events": faults,
            "duplicate_event_ids": faults,
            "late_client_ts": faults,
        },
        "requests": {
            "sent": len(calls),
            "by_kind": dict(by_kind),
            "answered_as_expected": len(answers) - sum(unexpected.values()),
            "unexpected_by_kind": dict(unexpected),
            "2xx": sum(1 for a in answers if a.status_2xx),
            "non_2xx": sum(1 for a in answers if not a.status_2xx),
        },
        "accepted_events": accepted_events,
        "elapsed_s": round(elapsed, 2),
        "requests_per_s": round(len(calls) / elapsed, 1) if elapsed else None,
        "events_per_s": round(accepted_events / elapsed, 1) if elapsed else None,
        "latency_ms": {
            "p50": _pct(latencies, 50),
            "p95": _pct(latencies, 95),
            "p99": _pct(latencies, 99),
            "max": latencies[-1] if latencies else None,
            "note": "per request, from each ab call's mean (ab -n 1)",
        },
        "calls_sample": [asdict(c) for c in calls[:3]],
        "finished_at": time.time(),
    }


def _pct(values: list[float], p: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(float(values[0]), 1)
    return round(float(statistics.quantiles(values, n=100, method="inclusive")[p - 1]), 1)
