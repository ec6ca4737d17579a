"""How the stream is doing, per table: last commit, rows/s, Kafka lag.

In: the job's `var/stream/status.json` (written every trigger), the topic's end offsets
(Kafka) and each table's newest snapshot (Trino). Out: one `TableHealth` per table,
for `gamepipe status`. Reads settings: kafka.*, trino.*, stream.*.
"""

from __future__ import annotations

import json
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
