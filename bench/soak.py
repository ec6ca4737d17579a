"""Soak: 20,000 events/s offered for 10 minutes; does the stream keep up?

Traffic in batches of 500 through the API. Every 5 s: events accepted so far, the
topic's end offsets and the stream's processed offsets (its status file), so the lag
(records in Kafka the stream has not processed) over time. "Keeps up" means the lag
at the end is no larger than in the first minute; the figures are the rate the API
accepted, the rate the stream processed, and the lag's slope."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from bench.common import save
from bench.traffic import Traffic
from gamepipe.config import Settings
from gamepipe.stream.monitor import end_offsets, lag, processed_offsets


def stream_lag(settings: Settings) -> tuple[int, int]:
    """(end offset total, lag) now."""
    topic = settings.kafka.topic
    ends = end_offsets(settings.kafka.bootstrap, topic)
    status = json.loads((settings.stream_dir / "status.json").read_text())
    done = processed_offsets(next(iter(status["tables"].values()))["offsets"], topic)
    return sum(ends.values()), lag(ends, done)


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
    end0, lag0 = stream_lag(settings)
    samples: list[dict[str, Any]] = []
    traffic.start()
    try:
        while (elapsed := time.monotonic() - began) < seconds:
            time.sleep(every_s)
            end, now_lag = stream_lag(settings)
            samples.append({"t": round(elapsed + every_s, 1), "accepted": traffic.accepted, "lag": now_lag,
                            "processed": end - end0 - now_lag + lag0})  # fmt: skip
            if len(samples) % 12 == 0:
                s = samples[-1]
                print(f"bench soak: {s['t']:.0f} s, accepted {s['accepted'] / s['t']:,.0f} events/s, "
                      f"lag {s['lag']:,}", flush=True)  # fmt: skip
    finally:
        traffic.stop()
    total = samples[-1]["t"]
    first_minute = [s["lag"] for s in samples if s["t"] <= 60] or [samples[0]["lag"]]
    result = {
        "offered_rate": rate, "seconds": seconds,
        "accepted_rate": traffic.accepted / total, "failed": traffic.failed,
        "processed_rate": samples[-1]["processed"] / total,
        "lag_first_minute_max": max(first_minute), "lag_end": samples[-1]["lag"],
        "lag_slope_per_s": slope([(s["t"], s["lag"]) for s in samples]),
        "kept_up": samples[-1]["lag"] <= max(first_minute),
        "samples": samples,
    }  # fmt: skip
    print(f"bench soak: accepted {result['accepted_rate']:,.0f}/s, stream processed {result['processed_rate']:,.0f}/s,"
          f" lag {result['lag_end']:,} at the end (slope {result['lag_slope_per_s']:,.0f}/s)", flush=True)  # fmt: skip
    save(settings, "soak", result)
