"""The stream's CPU priority, A/B in one run: `python -m bench.nice_ab` (six rounds of 2-3 minutes).

Needs the stack (`gamepipe up`). Alternates the stream's nice between 0 and the configured
`stream.nice` on the running job (every thread of its driver and Spark's JVM reniced in place;
table care stays at 19), three rounds each. A round: one event per GET (`ab -c 64`), 100-event
batches (`ab -c 16`), each after the stream caught up, then a freshness run at 5,000 events/s
with probes. Whether a round of table care ran is recorded, since it moves every figure.
Ends with the stream at the configured nice. Writes var/bench/nice-ab.json; the figures it
gave are in docs/decisions.md (not in docs/benchmarks.md: a decision, not a standing figure).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psutil

from bench.common import care_running, out_dir, save
from bench.freshness import one_run
from bench.ingest import BATCH_EVENTS, batch_file
from gamepipe.config import Settings, load_settings
from gamepipe.landing import wait_caught_up
from gamepipe.load import run_ab
from gamepipe.stack.manager import service
from gamepipe.stats import percentile
from gamepipe.stream.maintain import CARE_NICE

ROUNDS = 3


def renice_stream(settings: Settings, nice: int) -> None:
    """Every thread of the stream's tree to `nice`, table care (already at 19) left alone."""
    pid = service(settings, "stream").pid()
    if pid is None:
        raise SystemExit("the stream is not running: start the stack with `gamepipe up`")
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        try:
            if proc.nice() == CARE_NICE:
                continue
            for thread in proc.threads():
                os.setpriority(os.PRIO_PROCESS, thread.id, nice)
        except psutil.NoSuchProcess:
            continue


def one_round(settings: Settings, nice: int, body: Path) -> dict[str, Any]:
    renice_stream(settings, nice)
    api = f"http://{settings.api.host}:{settings.api.port}"
    wait_caught_up(settings)
    care = care_running(settings)
    single = run_ab(f"{api}/purchase_a_sword?session_id=nice-ab", 30_000, 64)
    wait_caught_up(settings)
    batch = run_ab(f"{api}/v1/events", 3_000, 16, body=body)
    wait_caught_up(settings)
    fresh = one_run(settings, 5_000, 60)
    care = care or care_running(settings)

    def p50_p99(values: list[float]) -> list[float | None]:
        return [percentile(values, 50), percentile(values, 99)]

    return {
        "nice": nice,
        "single_req_s": round(single.requests_per_s),
        "batch_events_s": round(batch.requests_per_s * BATCH_EVENTS),
        "committed_p50_p99_s": [fresh["sword_purchases"]["p50_s"], fresh["sword_purchases"]["p99_s"]],
        "trino_p50_p99_s": p50_p99(fresh["probe_trino_s"]),
        "duckdb_p50_p99_s": p50_p99(fresh["probe_duckdb_s"]),
        "table_care": care,
    }


def main() -> None:
    settings = load_settings()
    configured = settings.stream.nice
    if configured == 0:
        raise SystemExit("stream.nice is 0: nothing to set against nice 0")
    body = batch_file(out_dir(settings) / "batch-nice-ab.json", "nice-ab")
    rounds = []
    try:
        for nice in [0, configured] * ROUNDS:
            rounds.append(one_round(settings, nice, body))
            print(rounds[-1], flush=True)
    finally:
        renice_stream(settings, configured)
    print(save(settings, "nice-ab", {"rounds": rounds}))


if __name__ == "__main__":
    main()
