"""Steady `ab` load, a fault in the middle of it, and the ledger afterwards.

`under_load` runs a `game` load run (gamepipe.load.game: `ab` per request, every event
with its id, 503s and unanswered requests sent again) spread evenly over `LOAD_S`,
injects the fault `LEAD_S` into it, and when the load is over waits until the ledger
closes: `gamepipe verify`'s checks all pass (every event answered 2xx in `events` and in
its routed table exactly once, none among the dead letters, every request answered as
planned). It then records the fault's row of the matrix in docs/benchmarks.md
(`var/bench/fault-<name>.json`: acknowledged, landed, duplicates, seconds to recover,
seconds until the ledger closed).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.common import save
from gamepipe import query
from gamepipe.config import Settings
from gamepipe.errors import QueryError
from gamepipe.load.game import run_game
from gamepipe.manifest import Manifest
from gamepipe.stack import restarts
from gamepipe.stack.manager import services
from gamepipe.verify import Check, checks

LOAD_S = 60.0  # the load's length
LEAD_S = 15.0  # steady load before the fault
EVENTS = 30_000  # over LOAD_S: ~500 events/s, ~30 requests/s through `ab`
LEDGER_TIMEOUT_S = 420.0


@dataclass
class Outcome:
    manifest: Manifest
    recovered_s: float  # from the fault's end until the pipeline was whole again
    ledger_s: float  # from the load's end until every check passed
    checks: list[Check]


def under_load(
    settings: Settings,
    name: str,
    seed: int,
    fault: Callable[[], float],
    note: str = "",
    results_of: Settings | None = None,
) -> Outcome:
    """Run the load, `fault()` in the middle of it (it returns the seconds from the end of
    the fault until the pipeline was whole again), then close the ledger. The matrix's row
    goes to the bench results of `results_of` (default: `settings`)."""
    records_before = len(restarts.read(settings.var / "logs" / "restarts.jsonl"))
    manifests: list[Manifest] = []
    errors: list[BaseException] = []

    def load() -> None:
        try:
            run = run_game(settings, seed, players=300, events=EVENTS, concurrency=8, faults=0, spread_over_s=LOAD_S)
            manifests.append(run)
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            errors.append(exc)

    loader = threading.Thread(target=load, name=f"load-{name}")
    loader.start()
    time.sleep(LEAD_S)
    try:
        recovered_s = fault()
    finally:
        loader.join(timeout=LOAD_S + 600)
    assert not errors, errors
    assert manifests, "the load finished"
    manifest = manifests[0]
    load_ended = time.monotonic()
    passed = close_ledger(settings, manifest)
    ledger_s = time.monotonic() - load_ended
    outcome = Outcome(manifest, recovered_s, ledger_s, passed)
    record(settings, results_of or settings, name, outcome, records_before, note)
    return outcome


def close_ledger(settings: Settings, manifest: Manifest) -> list[Check]:
    """verify's checks, again and again until all pass or LEDGER_TIMEOUT_S is over."""
    deadline = time.monotonic() + LEDGER_TIMEOUT_S
    while True:
        try:
            results = checks(settings, manifest)
        except QueryError:  # Trino or its catalog still coming back
            results = []
        if results and all(c.ok for c in results):
            return results
        assert time.monotonic() < deadline, f"the ledger did not close: {[c for c in results if not c.ok]}"
        time.sleep(2)


def record(settings: Settings, results: Settings, name: str, outcome: Outcome, records_before: int, note: str) -> None:
    m = outcome.manifest
    where = f"session_id like '{m.run_id}-%'"
    rows, distinct = query.run(settings, f"select count(*), count(distinct event_id) from events where {where}").rows[0]
    after = restarts.read(settings.var / "logs" / "restarts.jsonl")[records_before:]
    names = [svc.name for svc in services(settings)]
    crashes = {s: n for s in names if (n := restarts.summary(after, s).crashes)}
    save(
        results,
        f"fault-{name}",
        {
            "fault": name,
            "note": note,
            "acknowledged": m.truth.events,
            "accepted_events": m.accepted_events,
            "landed_rows": int(rows),
            "landed_distinct": int(distinct),
            "duplicates": int(rows) - int(distinct),
            "requests": m.requests.sent,
            "requests_retried": m.requests.retried,
            "recovered_s": round(outcome.recovered_s, 1),
            "ledger_closed_after_load_s": round(outcome.ledger_s, 1),
            "crashes_seen_by_supervisord": crashes,
        },
    )


def wait_until(predicate: Callable[[], object], timeout_s: float, what: str) -> float:
    """Seconds until `predicate()` held (polled every 0.5 s)."""
    began = time.monotonic()
    while not predicate():
        assert time.monotonic() - began < timeout_s, f"timed out after {timeout_s:.0f} s waiting for {what}"
        time.sleep(0.5)
    return time.monotonic() - began
