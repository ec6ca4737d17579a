"""The worker's handling of its producer, with the producer seam swapped (api/producer.py
`Producing`): a fatal librdkafka error makes /readyz fail and the worker build a new
producer; /readyz asks the broker off the event loop; events beyond
`api.max_in_flight_events` are answered 503 at once, nothing produced. (librdkafka's
fatal errors cannot be caused on demand against a real broker; the real producer's
timeouts and recovery are tested against the real broker in tests/integration/.)"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

from starlette.testclient import TestClient

from gamepipe.api.app import create_app
from gamepipe.api.ingest import Ingest
from gamepipe.api.producer import Delivery
from gamepipe.config import load_settings
from gamepipe.events import load_contract

SETTINGS = load_settings()


class FakeProducer:
    """Acknowledges at once (or, `stalled`, once released); counts what it was given."""

    def __init__(self, stalled: bool = False) -> None:
        self.fatal: str | None = None
        self.records: list[tuple[bytes | None, bytes]] = []
        self.ping_threads: list[threading.Thread] = []
        self.closed = False
        self._stalled = stalled
        self._waiting: list[Delivery] = []

    @property
    def timeout_s(self) -> float:
        return 5.0

    def submit(self, topic: str, records: Sequence[tuple[bytes | None, bytes]]) -> Delivery:
        delivery = Delivery(asyncio.get_running_loop(), len(records))
        self.records.extend(records)
        if self._stalled:
            self._waiting.append(delivery)
        else:
            for i in range(len(records)):
                delivery.report(i, None)
        return delivery

    def release(self) -> None:
        """Acknowledge what waits, and from now on at once."""
        self._stalled = False
        for delivery in self._waiting:
            for i in range(len(delivery.errors)):
                delivery.report(i, None)

    def ping(self, timeout_s: float = 2.0) -> bool:
        self.ping_threads.append(threading.current_thread())
        return True

    def close(self, timeout_s: float = 10.0) -> int:
        self.closed = True
        return 0


def test_a_fatal_producer_fails_readiness_and_is_replaced_by_a_new_one() -> None:
    made: list[FakeProducer] = []

    def new_producer() -> FakeProducer:
        made.append(FakeProducer())
        return made[-1]

    with TestClient(create_app(SETTINGS, new_producer)) as client:
        assert client.get("/readyz").status_code == 200
        made[0].fatal = "Fatal error: KafkaError{code=OUT_OF_ORDER_SEQUENCE_NUMBER}"  # as librdkafka's error_cb sets it
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "OUT_OF_ORDER_SEQUENCE_NUMBER" in ready.json()["error"]["message"]
        assert client.post("/v1/events", json={"event_type": "default"}).status_code == 200
        assert len(made) == 2 and made[0].records == [] and len(made[1].records) == 1
        assert client.get("/readyz").status_code == 200
    assert made[0].closed, "the failed producer is closed"
    assert all(t is not threading.main_thread() for p in made for t in p.ping_threads), "pinged off the loop"
    assert made[0].ping_threads, "readiness asked the broker"


def event(i: int) -> dict[str, Any]:
    return {"event_id": f"00000000-0000-4000-8000-{i:012d}", "event_type": "default"}


def test_events_beyond_the_in_flight_bound_are_refused_at_once_and_not_produced() -> None:
    settings = SETTINGS.model_copy(update={"api": SETTINGS.api.model_copy(update={"max_in_flight_events": 3})})
    stalled = FakeProducer(stalled=True)

    async def scenario() -> None:
        ingest = Ingest(settings, load_contract(settings.schemas_dir), lambda: stalled)
        first = asyncio.ensure_future(ingest.produce([event(1), event(2)]))
        await asyncio.sleep(0)  # the first request's events are now waiting for the broker
        assert ingest.in_flight == 2
        second = await ingest.produce([event(3), event(4)])
        assert [(o.status, o.error and o.error.rule) for o in second] == [("unavailable", "busy")] * 2
        assert len(stalled.records) == 2, "nothing of the refused request was produced"
        stalled.release()
        assert [o.status for o in await first] == ["accepted", "accepted"]
        assert ingest.in_flight == 0
        assert [o.status for o in await ingest.produce([event(5)])] == ["accepted"]

    asyncio.run(scenario())
