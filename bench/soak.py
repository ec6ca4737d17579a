"""Soak: 20,000 events/s offered for 10 minutes; does the stream keep up?

Traffic in batches of 500 through the API. Every 5 s: events accepted so far, the
topic's end offsets and the stream's processed offsets (its status file), so the lag
(records in Kafka the stream has not processed) over time. A restarted stream reports
offsets from its first batch on; samples before that have no lag and are left out.
"Keeps up" means the lag at the end is no larger than in the first minute with offsets;
the figures are the rate the API accepted, the rate the stream processed (from its
offsets), and the lag's slope; and what each stage spent (`bench.cost`), table care's
rounds included."""

from __future__ import annotations

import time
import uuid
from typing import Any

from bench.common import BenchFailed, save
from bench.cost import CpuAccount
from bench.traffic import Traffic
from gamepipe.config import Settings
from gamepipe.stream.monitor import end_offsets, lag
from gamepipe.stream.status import StreamStatus


def stream_lag(settings: Settings) -> tuple[int | None, int | None, bool]:
    """(lag, records processed in total, a round of table care running) now; lag and
    records are None until the stream has reported offsets (a restarted stream has none
    before its first batch)."""
    ends = end_offsets(settings.kafka.bootstrap, settings.kafka.topic)
    status = StreamStatus.read(settings.stream_dir / "status.json")
    if status is None:
        return None, None, False
    done, care = status.offsets, status.table_care.running
    return (lag(ends, done), sum(done.values()), care) if done else (None, None, care)


def slope(points: list[tuple[float, int]]) -> float:
    """Least-squares slope of lag over time, records per second."""
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / var if var else 0.0


def run(settings: Settings, rate: int = 20_000, seconds: float = 600, every_s: float = 5) -> None:
    traffic = Traffic(settings, f"soak-{uuid.uuid4().hex[:6]}", rate, batch=500, senders=8)
    began = time.monotonic()
    samples: list[dict[str, Any]] = []
    cpu = CpuAccount(settings)
    cpu.start()
    traffic.start()
    try:
        while time.monotonic() - began < seconds:
            time.sleep(every_s)
            now_lag, done, care = stream_lag(settings)
            samples.append(
                {
                    # when the sample was read: reading Kafka's offsets can take seconds under load
                    "t": round(time.monotonic() - began, 1),
                    "accepted": traffic.accepted,
                    "lag": now_lag,
                    "done": done,
                    "table_care": care,
                }
            )
            if len(samples) % 12 == 0:
                s = samples[-1]
                lag_now = "not reported yet" if s["lag"] is None else f"{s['lag']:,}"
                print(
                    f"bench soak: {s['t']:.0f} s, accepted {s['accepted'] / s['t']:,.0f} events/s, lag {lag_now}",
                    flush=True,
                )
    finally:
        traffic.stop()
        cpu.stop()
    total = samples[-1]["t"]
    # Lag and the processed rate from the stream's own offsets, from the first sample that has them.
    known = [x for x in samples if x["done"] is not None]
    if len(known) < 2 or known[-1]["t"] - known[0]["t"] < seconds / 2:
        raise BenchFailed("bench soak: the stream reported offsets for less than half the run; see var/logs/stream.log")
    processed_rate = (known[-1]["done"] - known[0]["done"]) / (known[-1]["t"] - known[0]["t"])
    first_minute = [x["lag"] for x in known if x["t"] <= known[0]["t"] + 60]
    result = {
        "offered_rate": rate,
        "seconds": seconds,
        "accepted_rate": traffic.accepted / total,
        "failed": traffic.failed,
        "processed_rate": processed_rate,
        "lag_first_minute_max": max(first_minute),
        "lag_end": known[-1]["lag"],
        "lag_slope_per_s": slope([(x["t"], x["lag"]) for x in known]),
        "table_care_share": sum(x["table_care"] for x in samples) / len(samples),  # of the samples
        "kept_up": known[-1]["lag"] <= max(first_minute),
        "cost": cpu.result(traffic.accepted),
        "samples": samples,
    }
    print(
        f"bench soak: accepted {result['accepted_rate']:,.0f}/s, stream processed {result['processed_rate']:,.0f}/s,"
        f" lag {result['lag_end']:,} at the end (slope {result['lag_slope_per_s']:,.0f}/s)",
        flush=True,
    )
    save(settings, "soak", result)
