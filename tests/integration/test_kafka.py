"""Kafka: a real round trip through the stack's broker."""

from __future__ import annotations

import asyncio

import pytest

from gamepipe.api.producer import EventProducer
from gamepipe.config import Settings
from gamepipe.stack.kafka import ensure_topic
from tests.kafka_helpers import consume

pytestmark = pytest.mark.stack


def test_produce_acknowledged_then_consumed(stack: Settings, unique: str) -> None:
    bootstrap = stack.kafka.bootstrap
    ensure_topic(stack.kafka, unique, partitions=1)
    producer = EventProducer(bootstrap, timeout_s=10)

    async def send_all() -> None:
        for i in range(5):
            await producer.send(unique, b"k", f"event-{i}".encode())

    asyncio.run(send_all())
    assert producer.close() == 0
    assert consume(bootstrap, unique, 5) == [f"event-{i}".encode() for i in range(5)]
