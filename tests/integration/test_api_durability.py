"""The API's promises under failure, with processes of their own:

- a broker that stops: 503 with Retry-After within the bound; when it is back, 2xx
  again; every event ever answered 2xx is in Kafka exactly once, none answered 503 is;
- SIGTERM during load: the server drains and flushes; no acknowledged event is lost.

(Property-based requests, schemathesis included, are tests/integration/test_fuzz.py.)
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from gamepipe.api.app import create_app
from gamepipe.config import Settings
from gamepipe.stack.apps import server_argv
from gamepipe.stack.base import free_port, stop_group
from gamepipe.stack.kafka import Kafka, ensure_topic
from tests.kafka_helpers import consume

pytestmark = pytest.mark.stack


@pytest.fixture
def own_broker(stack: Settings, tmp_path: Path) -> Iterator[Kafka]:
    """A second Kafka of this test's own (so stopping it disturbs nothing else)."""
    var = tmp_path / "var"
    var.mkdir()
    port, controller = free_port(), free_port()
    settings = stack.model_copy(
        update={
            "var_dir": var,
            "kafka": stack.kafka.model_copy(
                update={"bootstrap": f"127.0.0.1:{port}", "controller_port": controller, "heap": "256m"}
            ),
        }
    )
    broker = Kafka(settings)
    broker.start()
    broker.wait_healthy()
    broker.after_start()
    yield broker
    broker.supervisor.shutdown()  # the broker and this var/'s own supervisord


def post(client: TestClient, event_id: str) -> int:
    return client.post("/v1/events", json={"event_type": "default", "event_id": event_id}).status_code


def test_broker_down_503_then_back_2xx_and_nothing_lost_or_doubled(own_broker: Kafka) -> None:
    settings = own_broker.settings.model_copy(
        update={"api": own_broker.settings.api.model_copy(update={"produce_timeout_s": 2.0})}
    )
    topic = settings.kafka.topic
    acked: list[str] = []
    refused: list[str] = []
    with TestClient(create_app(settings)) as client:
        for _ in range(20):
            event_id = str(uuid.uuid4())
            assert post(client, event_id) == 200
            acked.append(event_id)

        own_broker.stop()
        for _ in range(3):
            event_id = str(uuid.uuid4())
            started = time.monotonic()
            response = client.post("/v1/events", json={"event_type": "default", "event_id": event_id})
            took = time.monotonic() - started
            assert response.status_code == 503
            assert response.headers["Retry-After"]
            assert response.json()["error"]["rule"] == "unavailable"
            assert took < settings.api.produce_timeout_s + 2, f"503 took {took:.1f}s"
            refused.append(event_id)

        own_broker.start()
        own_broker.wait_healthy()
        deadline = time.monotonic() + 60
        while True:  # the producer reconnects by itself; the client retries as told
            event_id = str(uuid.uuid4())
            status = post(client, event_id)
            if status == 200:
                acked.append(event_id)
                break
            assert status == 503 and time.monotonic() < deadline
            refused.append(event_id)
        for _ in range(20):
            event_id = str(uuid.uuid4())
            assert post(client, event_id) == 200
            acked.append(event_id)

    in_kafka = [json.loads(v)["event_id"] for v in consume(settings.kafka.bootstrap, topic, timeout_s=20)]
    assert sorted(in_kafka) == sorted(acked), "every 2xx exactly once, no 503 kept"
    assert not set(refused) & set(in_kafka)


@pytest.fixture
def api_process(
    stack: Settings, unique: str, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str, str, Path]]:
    """A real server (granian, as the stack runs it, 1 worker) on a port and topic of its own."""
    ensure_topic(stack.kafka, unique, partitions=2)
    port = free_port()
    env = dict(os.environ, GAMEPIPE_KAFKA__TOPIC=unique, PYTHONUNBUFFERED="1")
    log = open(tmp_path / "api.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        server_argv("127.0.0.1", port, 1, tmp_path),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(base + "/readyz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "api.log").read_text()
        time.sleep(0.2)
    yield proc, base, unique, tmp_path / "api.log"
    if proc.poll() is None:
        stop_group(proc.pid, timeout_s=20)  # the server and its worker processes
    proc.wait()
    log.close()


def test_sigterm_during_load_loses_no_acknowledged_event(
    stack: Settings, api_process: tuple[subprocess.Popen[bytes], str, str, Path]
) -> None:
    proc, base, topic, log = api_process
    acked: list[str] = []

    async def client_loop(client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        while not stop.is_set():
            event_id = str(uuid.uuid4())
            try:
                response = await client.post(base + "/v1/events", json={"event_type": "default", "event_id": event_id})
            except httpx.TransportError:
                return  # the server is gone
            if response.status_code == 200:
                acked.append(event_id)

    async def load() -> None:
        stop = asyncio.Event()
        async with httpx.AsyncClient(timeout=10) as client:
            tasks = [asyncio.create_task(client_loop(client, stop)) for _ in range(16)]
            await asyncio.sleep(1.5)
            proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(3)
            stop.set()
            await asyncio.gather(*tasks)

    asyncio.run(load())
    assert proc.wait(timeout=30) == 0
    assert "producer flushed (0 unflushed)" in log.read_text(), log.read_text()
    assert len(acked) > 50, "the load ran"
    in_kafka = [json.loads(v)["event_id"] for v in consume(stack.kafka.bootstrap, topic, timeout_s=20)]
    missing = set(acked) - set(in_kafka)
    assert not missing, f"{len(missing)} acknowledged events are not in Kafka"
    assert len(in_kafka) == len(set(in_kafka)), "no event twice"
