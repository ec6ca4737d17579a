"""The Kafka edge of the API: send an event and wait for the broker's acknowledgement.

In: topic, key, value bytes. Out: an awaitable that completes only once the broker
has the record with `acks=all` (idempotent producer), or raises `ProduceFailed`
within `produce_timeout_s`. Typed settings become librdkafka's dotted keys here only.
Reads settings: kafka.bootstrap, api.produce_timeout_s.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from confluent_kafka import KafkaError, Message, Producer


class ProduceFailed(Exception):
    """The broker did not acknowledge in time. Transient: the client may retry."""


def producer_config(bootstrap: str, timeout_s: float) -> dict[str, Any]:
    timeout_ms = max(int(timeout_s * 1000), 1000)
    return {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "enable.idempotence": True,
        # Small batches: latency matters more than the last percent of throughput.
        "linger.ms": 2,
        "compression.type": "lz4",
        # The bound after which a request answers 503 rather than hang.
        "message.timeout.ms": timeout_ms,
        "request.timeout.ms": min(timeout_ms, 30000),
        "socket.connection.setup.timeout.ms": min(timeout_ms, 30000),
    }


class EventProducer:
    """One librdkafka producer per process, polled by a daemon thread."""

    def __init__(self, bootstrap: str, timeout_s: float) -> None:
        self._producer = Producer(producer_config(bootstrap, timeout_s))
        self._timeout_s = timeout_s
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="kafka-poll", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)

    async def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            if err is None:
                loop.call_soon_threadsafe(_resolve, done, None)
            else:
                loop.call_soon_threadsafe(_resolve, done, ProduceFailed(str(err)))

        try:
            self._producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
        except BufferError as exc:
            raise ProduceFailed("producer queue is full") from exc
        # librdkafka times the message out itself; the extra second only guards a hang.
        await asyncio.wait_for(done, timeout=self._timeout_s + 1.0)

    def ping(self, timeout_s: float = 2.0) -> bool:
        """True when the broker answers a metadata request."""
        try:
            self._producer.list_topics(timeout=timeout_s)
        except Exception:  # noqa: BLE001 - any failure means "not ready"
            return False
        return True

    def close(self, timeout_s: float = 10.0) -> int:
        """Flush what is queued, stop polling; returns the count still unflushed."""
        left: int = self._producer.flush(timeout_s)
        self._stop.set()
        self._poller.join(timeout=1.0)
        return left


def _resolve(fut: asyncio.Future[None], outcome: Exception | None) -> None:
    if fut.done():
        return
    if outcome is None:
        fut.set_result(None)
    else:
        fut.set_exception(outcome)
