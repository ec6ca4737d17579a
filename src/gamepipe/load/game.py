"""The `game` scenario: a seeded population's events, sent through the API with `ab`.

In: seed, players, events, concurrency, faults. Out: a run directory
`var/runs/<run_id>/` with the batch files sent and `manifest.json`, the ground truth
(`simulate.Plan.truth`) plus what was sent and how it was answered; `gamepipe verify`
reconciles it with the tables.

How it is sent: the first sessions' visits as GET on the seed's `/` route (one `ab` per
visit: Host header, `player_id`, `session_id`, `event_id`), everything else as POST
/v1/events batches of 100 events from one player (`ab -p`), many `ab` processes in
parallel, as fast as they go or spread evenly over `spread_over_s`. Every event carries
its id, so a request answered 503 (or not answered at all) is sent again, the same
bytes, every `RETRY_WAIT_S` for up to `RETRY_FOR_S` (well inside the stream's 5-minute
dedup window): it lands once. Each request must end with exactly the status planned for
it (`ab -v 2` shows it): 200 for traffic, 400 for a malformed body, 413 for an oversize
event; any other answer fails the run. Faults, on request, each sent by its own `ab`
and counted: malformed bodies, oversize events, duplicate event ids (accepted, must
land once), late client timestamps (accepted, must land). Reads settings: api.host,
api.port, var.
"""

from __future__ import annotations

import json
import random
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
from gamepipe.load.ab import ab_once
from gamepipe.manifest import MANIFEST, Faults, GameDays, Latency, Manifest, Requests, run_dir
from gamepipe.simulate import DAYS, NO_EFFECT, PLANTED, Plan, plan
from gamepipe.stats import percentile

BATCH = 100
GET_SHARE = 0.05  # of the events, sent as the seed's GET visits (at most MAX_GETS)
MAX_GETS = 2000
LATE_BY = timedelta(days=3)
# Sent again after these answers (None: no answer at all): nothing was acknowledged.
RETRY_ON = frozenset({503, None})
RETRY_WAIT_S = 2.0  # the API's Retry-After
RETRY_FOR_S = 120.0

# Called as requests are answered: (events sent so far, answered as planned, not).
ProgressHook = Callable[[int, int, int], None]


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
    status: int | None  # the last answer's status (None: none came)
    attempts: int
    latency_ms: float | None

    @property
    def ok(self) -> bool:
        """Answered with exactly the planned status."""
        return self.status == self.call.expect

    @property
    def status_2xx(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def run_id(seed: int) -> str:
    """Of the form gamepipe/rollup.py's RUN_FORM, by which queries and item_days find a run."""
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
        params: dict[str, str] = {k: e[k] for k in ("event_id", "player_id", "session_id", "client_ts") if k in e}
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
    """Send the call, and send it again while it is answered 503 or not at all."""
    url = f"http://{settings.api.host}:{settings.api.port}{call.path}"
    headers = {"Host": call.host, "X-Gamepipe-Synthetic": "1"}
    give_up = time.monotonic() + RETRY_FOR_S
    attempts = 0
    while True:
        attempts += 1
        answer = ab_once(url, headers, call.body)
        if answer.status not in RETRY_ON or time.monotonic() > give_up:
            return Answer(call, answer.status, attempts, answer.latency_ms)
        time.sleep(RETRY_WAIT_S)


def run_game(
    settings: Settings,
    seed: int,
    players: int,
    events: int,
    concurrency: int,
    faults: int,
    progress: ProgressHook | None = None,
    spread_over_s: float | None = None,
    days: int = DAYS,
    effects: bool = True,
) -> Manifest:
    """Plan, send, write the manifest; returns it. `progress(events_sent, answered_ok, errors)`.
    With `spread_over_s` the requests start evenly over that many seconds (steady load).
    The population lives `days` game days, with the planted effects unless `effects` is off."""
    rid = run_id(seed)
    the_run = run_dir(settings, rid)
    the_plan = plan(seed, players, events, run_id=rid, days=days, effects=PLANTED if effects else NO_EFFECT)
    calls = make_calls(the_plan, the_run, faults)
    random.Random(seed).shuffle(calls)  # noqa: S311 - visits, batches and faults interleaved
    answers: list[Answer] = []
    sent = errors = 0
    started = time.monotonic()
    gap = (spread_over_s or 0) / max(len(calls), 1)

    def at_its_time(i: int, call: Call) -> Answer:
        time.sleep(max(0.0, started + i * gap - time.monotonic()))
        return send(settings, call)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [pool.submit(at_its_time, i, c) for i, c in enumerate(calls)]
        for fut in as_completed(futures):
            answer = fut.result()
            answers.append(answer)
            sent += answer.call.events
            errors += 0 if answer.ok else 1
            if progress:
                progress(sent, len(answers) - errors, errors)
    elapsed = time.monotonic() - started
    manifest = _manifest(the_plan, calls, answers, elapsed, faults, concurrency)
    manifest.save(the_run / MANIFEST)
    return manifest


def _manifest(
    the_plan: Plan, calls: list[Call], answers: list[Answer], elapsed: float, faults: int, concurrency: int
) -> Manifest:
    by_kind: Counter[str] = Counter(c.kind for c in calls)
    unexpected = Counter(a.call.kind for a in answers if not a.ok)
    by_status = Counter(str(a.status) for a in answers)
    latencies = sorted(a.latency_ms for a in answers if a.latency_ms is not None)
    return Manifest.of(
        run_id=the_plan.run_id,
        scenario="game",
        seed=the_plan.seed,
        players=len(the_plan.players),
        concurrency=concurrency,
        truth=the_plan.truth(),
        faults=Faults(
            malformed_bodies=faults, oversize_events=faults, duplicate_event_ids=faults, late_client_ts=faults
        ),
        requests=Requests(
            sent=len(calls),
            by_kind=dict(by_kind),
            answered_as_expected=len(answers) - sum(unexpected.values()),
            unexpected_by_kind=dict(unexpected),
            ok=sum(1 for a in answers if a.status_2xx),
            non_2xx=sum(1 for a in answers if not a.status_2xx),
            by_status=dict(sorted(by_status.items())),
            retried=sum(1 for a in answers if a.attempts > 1),
            attempts=sum(a.attempts for a in answers),
        ),
        accepted_events=sum(a.call.events for a in answers if a.status_2xx and a.call.kind in ("visit", "batch")),
        elapsed_s=elapsed,
        latency_ms=Latency(
            p50=_rounded(percentile(latencies, 50)),
            p95=_rounded(percentile(latencies, 95)),
            p99=_rounded(percentile(latencies, 99)),
            max=latencies[-1] if latencies else None,
            note="per request, its last attempt (ab -n 1)",
        ),
        calls_sample=[asdict(c) for c in calls[:3]],
        game=GameDays(
            start=the_plan.start,
            days=the_plan.days,
            d7_lift=round(the_plan.effects.d7_lift, 4),
            price_day=the_plan.effects.price_day,
            sword_rate_after=the_plan.effects.sword_rate_after,
        ),
    )


def _rounded(ms: float | None) -> float | None:
    return None if ms is None else round(ms, 1)
