"""Reading back what reached Kafka: the tests' view of the broker."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, KafkaError, TopicPartition


def consume(bootstrap: str, topic: str, expected: int | None = None, timeout_s: float = 20.0) -> list[bytes]:
    """Every record of `topic` from the start: stops at `expected` records, or when the
    end of every partition is reached (expected=None), or at the timeout."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"{topic}-reader-{time.monotonic_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    values: list[bytes] = []
    at_end: set[int] = set()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if expected is not None and len(values) >= expected:
                break
            if expected is None and at_end == set(partitions):
                break
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    at_end.add(int(msg.partition() or 0))
                continue
            at_end.discard(int(msg.partition() or 0))
            values.append(msg.value() or b"")
    finally:
        consumer.close()
    return values
