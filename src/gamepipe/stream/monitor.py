"""How the stream is doing, per table: last commit, rows/s, Kafka lag; and overall, a
`Verdict`: keeping up, behind, stalled, or near losing records to Kafka's retention.

In: the job's `var/stream/status.json` (written every trigger), the topic's end offsets
and the timestamps of the oldest records not yet processed (Kafka), and each table's
newest snapshot (Trino). Out: one `TableHealth` per table and a `Verdict`, for `gamepipe
status`. Reads settings: kafka.*, trino.*, stream.*.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from gamepipe import query
from gamepipe.config import Settings


@dataclass(frozen=True)
class TableHealth:
    table: str
    batch: int | None
    last_commit: str | None
    rows_per_s: float | None
    lag: int | None  # records in Kafka not yet processed by this table's query


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "gamepipe-monitor", "log_level": 0})
    try:
        partitions = consumer.list_topics(topic, timeout=5).topics[topic].partitions
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5)[1] for p in partitions}
    finally:
        consumer.close()


def oldest_waiting(bootstrap: str, topic: str, done: dict[int, int], ends: dict[int, int]) -> float | None:
    """The Kafka timestamp (epoch s) of the oldest record not yet processed, or None."""
    from confluent_kafka import Consumer, TopicPartition

    waiting = [TopicPartition(topic, p, done.get(p, 0)) for p, end in ends.items() if end > done.get(p, 0)]
    if not waiting:
        return None
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "gamepipe-monitor", "log_level": 0,
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})  # fmt: skip
    try:
        consumer.assign(waiting)
        stamps: list[float] = []
        deadline = time.monotonic() + 5
        while len(stamps) < len(waiting) and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                stamps.append(msg.timestamp()[1] / 1000)
                consumer.pause([TopicPartition(topic, int(msg.partition() or 0))])
        return min(stamps) if stamps else None
    finally:
        consumer.close()


@dataclass(frozen=True)
class Verdict:
    state: str  # keeping up | behind | stalled | not reporting
    warnings: tuple[str, ...]


def verdict(
    lag: int | None,
    newest_commit_age_s: float | None,
    running_s: float,
    status_age_s: float,
    oldest_waiting_age_s: float | None,
    stalled_after_s: float,
    retention_s: float,
) -> Verdict:
    """The stream as a whole. Stalled: records wait in Kafka and no table got a commit for
    `stalled_after_s` (or never, in a job running that long). Warned: the oldest record
    waiting is past 80 % of Kafka's retention (it is deleted at 100 %, lost to the tables)."""
    warnings = []
    if oldest_waiting_age_s is not None and oldest_waiting_age_s > 0.8 * retention_s:
        warnings.append(
            f"the oldest record waiting in Kafka is {oldest_waiting_age_s / 3600:.1f} h old and Kafka deletes records "
            f"after {retention_s / 3600:.0f} h: unless the stream catches up they will never reach the tables"
        )
    if status_age_s > 30:
        return Verdict("not reporting", (f"status.json is {status_age_s:.0f} s old", *warnings))
    if not lag:
        return Verdict("keeping up", tuple(warnings))
    idle = newest_commit_age_s if newest_commit_age_s is not None else running_s
    if idle > stalled_after_s:
        stalled = f"{lag:,} records wait in Kafka and no table got a commit for {idle:.0f} s"
        return Verdict("stalled", (stalled, *warnings))
    return Verdict("behind", tuple(warnings))


def processed_offsets(offsets: Any, topic: str) -> dict[int, int]:
    """The query's end offsets from Spark's progress: {"events": {"0": 12, "1": 30}}."""
    if isinstance(offsets, str):
        offsets = json.loads(offsets)
    if not isinstance(offsets, dict):
        return {}
    return {int(p): int(o) for p, o in offsets.get(topic, {}).items()}


def lag(ends: dict[int, int], done: dict[int, int]) -> int:
    return sum(max(end - done.get(p, 0), 0) for p, end in ends.items())


def last_commit(settings: Settings, table: str) -> str | None:
    try:
        result = query.run(settings, f'select max(committed_at) from "{table}$snapshots"')
    except query.QueryError:
        return None
    value = result.scalar()
    return None if value is None else str(value)


def stream_verdict(settings: Settings, status: dict[str, Any], tables: list[TableHealth]) -> Verdict:
    """The `Verdict` from the job's status and what Kafka holds."""
    now = time.time()
    topic = settings.kafka.topic
    commits = [t.get("last_commit") for t in status.get("tables", {}).values() if t.get("last_commit")]
    lags = [t.lag for t in tables if t.lag is not None]
    per_table: list[dict[str, Any]] = list(status.get("tables", {}).values())
    done = processed_offsets(per_table[0].get("offsets") if per_table else None, topic)
    try:
        ends = end_offsets(settings.kafka.bootstrap, topic)
        oldest = oldest_waiting(settings.kafka.bootstrap, topic, done, ends) if done else None
    except Exception:  # noqa: BLE001 - Kafka down: judge without it
        oldest = None
    return verdict(
        lag=max(lags) if lags else None,
        newest_commit_age_s=now - max(commits) if commits else None,
        running_s=now - float(status.get("started") or now),
        status_age_s=now - float(status.get("updated") or 0),
        oldest_waiting_age_s=None if oldest is None else now - oldest,
        stalled_after_s=settings.stream.stalled_after_s,
        retention_s=settings.kafka.retention_hours * 3600,
    )


def health(settings: Settings, status: dict[str, Any]) -> list[TableHealth]:
    topic = settings.kafka.topic
    try:
        ends: dict[int, int] | None = end_offsets(settings.kafka.bootstrap, topic)
    except Exception:  # noqa: BLE001 - Kafka down: show the rest without lag
        ends = None
    out = []
    for table, t in status.get("tables", {}).items():
        done = processed_offsets(t.get("offsets"), topic)
        out.append(
            TableHealth(
                table=table,
                batch=t.get("batch"),
                last_commit=last_commit(settings, table),
                rows_per_s=t.get("rows_per_s"),
                lag=None if ends is None or not done else lag(ends, done),
            )
        )
    return out
