"""How the stream is doing, per table: last commit, rows/s, Kafka lag; and overall, a
`Verdict`: keeping up, behind, stalled, or near losing records to Kafka's retention.

In: the job's `var/stream/status.json` (written every trigger), the topic's end offsets
and the timestamps of the oldest records not yet processed (Kafka), and each table's
newest snapshot (Trino). Out: one `TableHealth` per table and a `Verdict`, for `gamepipe
status`. Reads settings: kafka.*, trino.*, stream.*.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

from gamepipe import query
from gamepipe.config import Settings
from gamepipe.errors import QueryError
from gamepipe.stream.status import StreamStatus


@dataclass(frozen=True)
class TableHealth:
    table: str
    batch: int | None
    last_commit: str | None
    rows_per_s: float | None
    lag: int | None  # records in Kafka the stream has not processed yet


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
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "gamepipe-monitor",
            "log_level": 0,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
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


class StreamState(StrEnum):
    KEEPING_UP = "keeping up"
    BEHIND = "behind"
    STALLED = "stalled"
    NOT_REPORTING = "not reporting"


@dataclass(frozen=True)
class Verdict:
    state: StreamState
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
        return Verdict(StreamState.NOT_REPORTING, (f"status.json is {status_age_s:.0f} s old", *warnings))
    if not lag:
        return Verdict(StreamState.KEEPING_UP, tuple(warnings))
    idle = newest_commit_age_s if newest_commit_age_s is not None else running_s
    if idle > stalled_after_s:
        stalled = f"{lag:,} records wait in Kafka and no table got a commit for {idle:.0f} s"
        return Verdict(StreamState.STALLED, (stalled, *warnings))
    return Verdict(StreamState.BEHIND, tuple(warnings))


def lag(ends: dict[int, int], done: dict[int, int]) -> int:
    return sum(max(end - done.get(p, 0), 0) for p, end in ends.items())


def last_commit(settings: Settings, table: str) -> str | None:
    try:
        result = query.run(settings, f'select max(committed_at) from "{table}$snapshots"')
    except QueryError:
        return None
    value = result.scalar()
    return None if value is None else str(value)


def stream_verdict(settings: Settings, status: StreamStatus, tables: list[TableHealth]) -> Verdict:
    """The `Verdict` from the job's status and what Kafka holds."""
    now = time.time()
    topic = settings.kafka.topic
    commits = [t.last_commit for t in status.tables.values() if t.last_commit]
    lags = [t.lag for t in tables if t.lag is not None]
    try:
        ends = end_offsets(settings.kafka.bootstrap, topic)
        oldest = oldest_waiting(settings.kafka.bootstrap, topic, status.offsets, ends) if status.offsets else None
    except Exception:  # noqa: BLE001 - Kafka down: judge without it
        oldest = None
    return verdict(
        lag=max(lags) if lags else None,
        newest_commit_age_s=now - max(commits) if commits else None,
        running_s=now - status.started,
        status_age_s=status.age_s(),
        oldest_waiting_age_s=None if oldest is None else now - oldest,
        stalled_after_s=settings.stream.stalled_after_s,
        retention_s=settings.kafka.retention_hours * 3600,
    )


def health(settings: Settings, status: StreamStatus) -> list[TableHealth]:
    try:
        ends: dict[int, int] | None = end_offsets(settings.kafka.bootstrap, settings.kafka.topic)
    except Exception:  # noqa: BLE001 - Kafka down: show the rest without lag
        ends = None
    stream_lag = None if ends is None or not status.offsets else lag(ends, status.offsets)
    return [
        TableHealth(table, status.batch, last_commit(settings, table), t.rows_per_s, stream_lag)
        for table, t in status.tables.items()
    ]
