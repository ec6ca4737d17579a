"""Files: an hour of streaming with the stack's own table care; how many data files per
partition do the tables hold?

Steady traffic through the API (100-event batches, all `purchase_sword`, so
`sword_purchases` and `events` both take all of it) while the stream runs table care
on its schedule (`stream.maintain_every_minutes`). Every minute, per table, from
Trino's Iceberg metadata tables: partitions, data files (most in one partition, and in
all), snapshots kept; and whether a round of table care is running; and each round that
ended, from the stream's status: per table the files it rewrote and the files whose
commit failed (lost to the stream's appends), or the round's error. At the end every
accepted event must be in both tables, once."""

from __future__ import annotations

import time
import uuid
from typing import Any

from bench.common import BenchFailed, save
from bench.freshness import TABLES
from bench.soak import stream_lag
from bench.traffic import Traffic
from gamepipe import query
from gamepipe.config import Settings
from gamepipe.landing import wait_landed
from gamepipe.stream.status import StreamStatus


def table_files(settings: Settings, table: str) -> dict[str, int]:
    """Partitions, most data files in one partition, data files and snapshots of a table now."""
    sql = f'select count(*), coalesce(max(file_count), 0), coalesce(sum(file_count), 0) from "{table}$partitions"'
    parts, most, files = query.run(settings, sql).rows[0]
    snapshots = query.run(settings, f'select count(*) from "{table}$snapshots"').scalar()
    return {"partitions": int(parts), "most_files": int(most), "files": int(files), "snapshots": int(snapshots)}


def last_round(settings: Settings) -> dict[str, Any] | None:
    """The stream's last round of table care that ended: started, seconds, report or error."""
    status = StreamStatus.read(settings.stream_dir / "status.json")
    if status is None or status.table_care.started is None:
        return None
    return status.table_care.model_dump(exclude={"running"}, exclude_none=True)


def run(settings: Settings, rate: int = 5000, seconds: int = 3600, every_s: int = 60) -> None:
    every_min = settings.stream.maintain_every_minutes
    if not every_min:
        print(
            "bench files: the stream's table care is off (stream.maintain_every_minutes = 0): this measures the "
            "files without it",
            flush=True,
        )
    traffic = Traffic(settings, f"files-{uuid.uuid4().hex[:6]}", rate, batch=100)
    samples: list[dict[str, Any]] = []
    rounds: dict[float, dict[str, Any]] = {}  # started -> the round
    before = last_round(settings)
    began = time.monotonic()
    traffic.start()
    try:
        for due in [*range(every_s, seconds, every_s), seconds]:  # on a grid: the queries' time does not add up
            time.sleep(max(0.0, began + due - time.monotonic()))
            lag, _, care = stream_lag(settings)
            sample: dict[str, Any] = {
                "t": round(time.monotonic() - began),
                "accepted": traffic.accepted,
                "lag": lag,
                "table_care": care,
                **{t: table_files(settings, t) for t in TABLES},
            }
            samples.append(sample)
            ended = last_round(settings)
            if ended and ended != before:
                rounds[ended["started"]] = ended
            files = ", ".join(f"{t} {sample[t]['most_files']} files/partition" for t in TABLES)
            print(
                f"bench files: {sample['t'] / 60:.0f} min, lag {lag}, care {'running' if care else 'idle'}, {files}",
                flush=True,
            )
    finally:
        traffic.stop()
    session = f"session_id = '{traffic.session_id}'"
    wait_landed(settings, dict.fromkeys(TABLES, traffic.accepted), session, timeout_s=600)
    end = {t: table_files(settings, t) for t in TABLES}
    landed = {t: query.count(settings, t, session) for t in TABLES}
    ids = {t: distinct_ids(settings, t, traffic.session_id) for t in TABLES}
    result = {
        "rate": rate,
        "seconds": seconds,
        "maintain_every_minutes": every_min,
        "trigger_s": settings.stream.trigger_seconds,
        "accepted": traffic.accepted,
        "failed": traffic.failed,
        "landed": landed,
        "distinct_ids": ids,
        "end": end,
        "table_care_share": sum(s["table_care"] for s in samples) / len(samples),
        "rounds": sorted(rounds.values(), key=lambda r: r["started"]),
        "samples": samples,
    }
    lost = [
        (r["started"], t, x["files_failed"])
        for r in result["rounds"]
        for t, x in r.get("report", {}).items()
        if x.get("files_failed")
    ]
    failed = [r for r in result["rounds"] if "error" in r]
    print(
        f"bench files: {len(rounds)} rounds of table care, {len(failed)} failed, files whose commit failed: "
        f"{lost or 'none'}",
        flush=True,
    )
    print(f"bench files: at the end {', '.join(f'{t} {end[t]}' for t in TABLES)}", flush=True)
    save(settings, "files", result)  # first: a failed check below keeps the hour's samples
    if any(n != traffic.accepted for n in [*landed.values(), *ids.values()]):
        raise BenchFailed(f"bench files: {traffic.accepted:,} accepted but rows {landed}, distinct ids {ids}")


def distinct_ids(settings: Settings, table: str, session_id: str, buckets: int = 16) -> int:
    """Distinct event ids of a session, counted a slice of the id hashes at a time: an
    hour at 5,000 events/s is 18 million ids, beyond Trino's per-query memory in one
    aggregation."""
    return sum(
        query.count(
            settings,
            f"(select distinct event_id from {table} where session_id = '{session_id}' and "
            f"abs(from_big_endian_64(xxhash64(to_utf8(event_id))) % {buckets}) = {k}) as ids",
        )
        for k in range(buckets)
    )
