"""The Kafka edge of the API: send an event and wait for the broker's acknowledgement.

In: topic, key, value bytes. Out: an awaitable that completes only once the broker
has the record with `acks=all` (idempotent producer), or raises `ProduceFailed`
within `produce_timeout_s`. Typed settings become librdkafka's dotted keys here only.
A fatal error of librdkafka (the idempotent producer can no longer keep its promise)
is recorded in `fatal`: from then on every record fails at once, and the worker builds
a new producer (api/ingest.py). Reads settings: kafka.bootstrap, api.produce_timeout_s,
api.max_in_flight_events, api.linger_ms.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException, Message, Producer


class ProduceFailed(Exception):
    """The broker did not acknowledge in time. Transient: the client may retry."""


def producer_config(bootstrap: str, timeout_s: float, max_in_flight: int, linger_ms: float) -> dict[str, Any]:
    timeout_ms = max(int(timeout_s * 1000), 1000)
    return {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": linger_ms,
        "compression.type": "lz4",
        # The bound after which a request answers 503 rather than hang.
        "message.timeout.ms": timeout_ms,
        "request.timeout.ms": min(timeout_ms, 30000),
        "socket.connection.setup.timeout.ms": min(timeout_ms, 30000),
        # The queue is bounded by the API's own limit (api.max_in_flight_events), not
        # librdkafka's defaults (100,000 records, 1 GB): a stalled broker cannot grow it.
        "queue.buffering.max.messages": max_in_flight,
        "queue.buffering.max.kbytes": 64 * 1024,
    }


class Producing(Protocol):
    """What the API needs of a producer (the seam tests swap)."""

    fatal: str | None

    @property
    def timeout_s(self) -> float: ...

    def submit(self, topic: str, records: Sequence[tuple[bytes | None, bytes]]) -> Delivery: ...

    def ping(self, timeout_s: float = 2.0) -> bool: ...

    def close(self, timeout_s: float = 10.0) -> int: ...


class EventProducer:
    """One librdkafka producer per process, polled by a daemon thread."""

    def __init__(self, bootstrap: str, timeout_s: float, max_in_flight: int = 20_000, linger_ms: float = 2) -> None:
        config = producer_config(bootstrap, timeout_s, max_in_flight, linger_ms)
        self._producer = Producer({**config, "error_cb": self._on_error})
        self._timeout_s = timeout_s
        self.fatal: str | None = None  # librdkafka's fatal error, once it had one
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="kafka-poll", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)

    def _on_error(self, error: KafkaError) -> None:
        if error.fatal():
            self.fatal = str(error)

    @property
    def timeout_s(self) -> float:
        return self._timeout_s

    def submit(self, topic: str, records: Sequence[tuple[bytes | None, bytes]]) -> Delivery:
        """Queue records (key, value); the returned `Delivery` completes once the broker
        has acknowledged or librdkafka has failed each of them (after `timeout_s`)."""
        loop = asyncio.get_running_loop()
        delivery = Delivery(loop, len(records))
        for i, (key, value) in enumerate(records):
            if self.fatal is not None:
                delivery.report(i, f"the producer failed: {self.fatal}")
                continue
            try:
                self._producer.produce(topic, value=value, key=key, on_delivery=delivery.callback(i))
            except BufferError:
                delivery.report(i, "producer queue is full")
            except KafkaException as exc:
                if exc.args[0].fatal():
                    self.fatal = str(exc.args[0])
                delivery.report(i, str(exc.args[0]))
        return delivery

    async def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Produce one record and wait for its acknowledgement, or raise ProduceFailed."""
        [error] = await self.submit(topic, [(key, value)]).wait(self._timeout_s + 1.0)
        if error is not None:
            raise ProduceFailed(error)

    def ping(self, timeout_s: float = 2.0) -> bool:
        """True when the broker answers a metadata request. Blocks up to `timeout_s`: call
        it from a thread, not the event loop (api/ingest.py's `Readiness`)."""
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


PENDING = "no acknowledgement within the bound"


class Delivery:
    """The outcome of a group of records: one loop wake-up for the whole group, not one
    per record (librdkafka's callbacks run on the poll thread)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, count: int) -> None:
        self._loop = loop
        self._done: asyncio.Future[None] = loop.create_future()
        # None once acknowledged; an error message otherwise.
        self.errors: list[str | None] = [PENDING] * count
        self._left = count
        self._lock = threading.Lock()
        if count == 0:
            self._done.set_result(None)

    def callback(self, index: int) -> Callable[[KafkaError | None, Message], None]:
        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            self.report(index, None if err is None else str(err))

        return on_delivery

    def report(self, index: int, error: str | None) -> None:
        self.errors[index] = error
        with self._lock:
            self._left -= 1
            last = self._left == 0
        if last:
            self._loop.call_soon_threadsafe(_finish, self._done)

    async def wait(self, timeout_s: float) -> list[str | None]:
        """Per record: None if acknowledged, else why not (PENDING if it timed out)."""
        await asyncio.wait([self._done], timeout=timeout_s)
        return list(self.errors)


def _finish(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
