"""The API against the real broker: seed routes, honest errors, allowlisted headers."""

from __future__ import annotations

import json

import httpx
import pytest
from starlette.testclient import TestClient

from gamepipe.api.app import SEED_ROUTES, create_app
from gamepipe.config import Settings
from gamepipe.stack.kafka import ensure_topic
from tests.kafka_helpers import consume

pytestmark = pytest.mark.stack


@pytest.fixture
def client_and_topic(stack: Settings, unique: str):  # type: ignore[no-untyped-def]
    """The app in-process, producing to the real broker on a topic of its own."""
    ensure_topic(stack.kafka.bootstrap, unique, partitions=1)
    settings = stack.model_copy(update={"kafka": stack.kafka.model_copy(update={"topic": unique})})
    with TestClient(create_app(settings)) as client:
        yield client, unique


def test_seed_routes_answer_the_seed_texts(stack: Settings) -> None:
    """Through the running server, as `ab` reaches it."""
    base = f"http://{stack.api.host}:{stack.api.port}"
    for path, (_event_type, text) in SEED_ROUTES.items():
        response = httpx.get(base + path, headers={"Host": "user1.comcast.com"})
        assert response.status_code == 200
        assert response.text == text


def test_event_reaches_kafka_with_allowlisted_headers_only(client_and_topic, stack: Settings) -> None:  # type: ignore[no-untyped-def]
    client, topic = client_and_topic
    response = client.get(
        "/purchase_a_sword?sword_type=katana&price=12.50&currency=EUR",
        headers={
            "Host": "user1.comcast.com",
            "Cookie": "sid=secret",
            "Authorization": "Bearer secret",
            "X-Custom": "secret",
        },
    )
    assert response.status_code == 200
    [raw] = consume(stack.kafka.bootstrap, topic, expected=1)
    event = json.loads(raw)
    assert event["event_type"] == "purchase_sword"
    assert (event["sword_type"], event["price"], event["currency"]) == ("katana", 12.5, "EUR")
    assert event["host"] == "user1.comcast.com"
    assert b"secret" not in raw


@pytest.mark.parametrize(
    ("path", "field", "rule"),
    [
        ("/purchase_a_sword?price=abc", "price", "type"),
        ("/purchase_a_sword?price=-5", "price", "minimum"),
        ("/purchase_a_sword?currency=euros", "currency", "pattern"),
        ("/join_guild?nonsense=1", "nonsense", "additionalProperties"),
    ],
)
def test_bad_input_is_422_and_nothing_is_produced(client_and_topic, stack: Settings, path, field, rule) -> None:  # type: ignore[no-untyped-def]
    client, topic = client_and_topic
    response = client.get(path)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field
    assert response.json()["error"]["rule"] == rule
    assert consume(stack.kafka.bootstrap, topic, expected=None, timeout_s=5) == []
