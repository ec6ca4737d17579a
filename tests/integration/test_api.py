"""The API against the real broker: seed routes, batches, honest errors, headers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
from starlette.testclient import TestClient

from gamepipe.api.app import create_app
from gamepipe.api.ingest import MAX_BATCH_EVENTS, MAX_BODY_BYTES, MAX_EVENT_BYTES, idempotent_id
from gamepipe.config import Settings
from gamepipe.events import SEED_ROUTES
from gamepipe.stack.kafka import ensure_topic
from tests.kafka_helpers import consume

pytestmark = pytest.mark.stack

Client = tuple[TestClient, str]


def app_settings(stack: Settings, topic: str, **api: object) -> Settings:
    return stack.model_copy(
        update={
            "kafka": stack.kafka.model_copy(update={"topic": topic}),
            "api": stack.api.model_copy(update=api),
        }
    )


@pytest.fixture
def client(stack: Settings, unique: str) -> Iterator[Client]:
    """The app in-process, producing to the real broker on a topic of its own."""
    ensure_topic(stack.kafka, unique, partitions=1)
    with TestClient(create_app(app_settings(stack, unique))) as test_client:
        yield test_client, unique


def produced(stack: Settings, topic: str) -> list[dict[str, object]]:
    return [json.loads(v) for v in consume(stack.kafka.bootstrap, topic, expected=None, timeout_s=10)]


def test_seed_routes_answer_the_seed_texts(stack: Settings) -> None:
    """Through the running server, as `ab` reaches it."""
    base = f"http://{stack.api.host}:{stack.api.port}"
    for path, (_event_type, text) in SEED_ROUTES.items():
        response = httpx.get(base + path, headers={"Host": "user1.comcast.com"})
        assert response.status_code == 200
        assert response.text == text


def test_event_reaches_kafka_with_allowlisted_headers_only(client: Client, stack: Settings) -> None:
    test_client, topic = client
    response = test_client.get(
        "/purchase_a_sword?sword_type=katana&price=12.50&currency=EUR&player_id=p1",
        headers={
            "Host": "user1.comcast.com",
            "Cookie": "sid=secret",
            "Authorization": "Bearer secret",
            "X-Custom": "secret",
        },
    )
    assert response.status_code == 200
    [event] = produced(stack, topic)
    assert event["event_type"] == "purchase_sword"
    assert (event["sword_type"], event["price"], event["currency"]) == ("katana", 12.5, "EUR")
    assert (event["host"], event["player_id"]) == ("user1.comcast.com", "p1")
    assert "secret" not in json.dumps(event)
    assert set(event) <= {*create_app_fields(), "sword_type", "price", "currency"}


def create_app_fields() -> set[str]:
    return {
        "event_id",
        "event_type",
        "schema_version",
        "received_at",
        "client_ts",
        "player_id",
        "session_id",
        "host",
        "user_agent",
        "accept",
        "client_ip_hash",
        "is_synthetic",
    }


def test_post_one_event_keeps_the_client_id(client: Client, stack: Settings) -> None:
    test_client, topic = client
    event_id = str(uuid.uuid4())
    body = {"event_type": "join_guild", "event_id": event_id, "guild_id": "g1", "guild_name": "Knights"}
    response = test_client.post("/v1/events", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "accepted", "event_id": event_id}
    [event] = produced(stack, topic)
    assert (event["event_id"], event["guild_name"]) == (event_id, "Knights")


def test_batch_answers_per_event_and_produces_only_the_valid(client: Client, stack: Settings) -> None:
    test_client, topic = client
    events = [
        {"event_type": "purchase_sword", "price": 3.5, "currency": "USD"},
        {"event_type": "purchase_sword", "price": "free"},
        {"event_type": "buy_castle"},
        {"event_type": "join_guild", "guild_name": "Knights"},
    ]
    response = test_client.post("/v1/events", json={"events": events})
    assert response.status_code == 207
    body = response.json()
    assert (body["accepted"], body["rejected"], body["unavailable"]) == (2, 2, 0)
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["accepted", "rejected", "rejected", "accepted"]
    assert body["results"][1]["error"]["field"] == "price"
    assert body["results"][2]["error"]["field"] == "event_type"
    landed = produced(stack, topic)
    assert sorted(str(e["event_id"]) for e in landed) == sorted(
        r["event_id"] for r in body["results"] if r["status"] == "accepted"
    )


BIG = "x" * (MAX_EVENT_BYTES + 1)


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "field", "rule"),
    [
        ("GET", "/purchase_a_sword?price=abc", {}, 422, "price", "type"),
        ("GET", "/purchase_a_sword?price=-5", {}, 422, "price", "minimum"),
        ("GET", "/purchase_a_sword?currency=euros", {}, 422, "currency", "pattern"),
        ("GET", "/join_guild?nonsense=1", {}, 422, "nonsense", "additionalProperties"),
        ("GET", "/join_guild?event_id=nope", {}, 422, "event_id", "format"),
        ("GET", "/no_such_route", {}, 404, "(path)", "route"),
        ("DELETE", "/purchase_a_sword", {}, 405, "(method)", "method"),
        (
            "POST",
            "/v1/events",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            400,
            "(body)",
            "json",
        ),
        ("POST", "/v1/events", {"json": [1, 2]}, 400, "(body)", "shape"),
        (
            "POST",
            "/v1/events",
            {"content": b"event_type=default", "headers": {"content-type": "text/plain"}},
            415,
            "content-type",
            "media_type",
        ),
        (
            "POST",
            "/v1/events",
            {"json": {"event_type": "default", "pad": "x" * MAX_BODY_BYTES}},
            413,
            "(body)",
            "maxBytes",
        ),
        (
            "POST",
            "/v1/events",
            {"json": {"event_type": "purchase_sword", "sword_type": BIG}},
            413,
            "(event)",
            "maxBytes",
        ),
        (
            "POST",
            "/v1/events",
            {"json": {"events": [{"event_type": "default"}] * (MAX_BATCH_EVENTS + 1)}},
            413,
            "events",
            "maxItems",
        ),
        ("POST", "/v1/events", {"json": {"event_type": "purchase_sword", "price": "free"}}, 422, "price", "type"),
        (
            "POST",
            "/v1/events",
            {"json": {"event_type": "default", "received_at": "2020-01-01T00:00:00Z"}},
            422,
            "received_at",
            "readOnly",
        ),
        ("POST", "/v1/events", {"json": {"event_type": "default", "schema_version": 7}}, 422, "schema_version", "enum"),
        ("POST", "/v1/events", {"json": {"events": []}}, 422, "events", "minItems"),
        (
            "POST",
            "/v1/events",
            {"json": {"events": [{"event_type": "default"}]}, "headers": {"user-agent": "u" * 600}},
            422,
            "user_agent",
            "maxLength",
        ),
        ("GET", "/", {"headers": {"accept": "a" * 300}}, 422, "accept", "maxLength"),
        # Issue 16's findings: each was answered 2xx and then lost or altered, or a 500.
        (
            "POST",
            "/v1/events",
            {"json": {"event_type": "join_guild", "client_ts": "2024-12-01T10:00:60Z"}},
            422,
            "client_ts",
            "format",
        ),
        (
            "POST",
            "/v1/events",
            {"json": {"event_type": "join_guild", "client_ts": "0001-01-01T00:00:00Z"}},
            422,
            "client_ts",
            "window",
        ),
        (
            "POST",
            "/v1/events",
            {"json": {"event_type": "join_guild", "client_ts": "9999-12-31T00:00:00Z"}},
            422,
            "client_ts",
            "window",
        ),
        ("GET", "/purchase_a_sword?price=nan", {}, 422, "price", "type"),
        ("GET", "/purchase_a_sword?price=0.005", {}, 422, "price", "multipleOf"),
        ("POST", "/v1/events", {"json": {"event_type": "purchase_sword", "price": 0.005}}, 422, "price", "multipleOf"),
        ("POST", "/v1/events", {"json": {"event_type": "default", "schema_version": 0}}, 422, "schema_version", "enum"),
        (
            "POST",
            "/v1/events",
            {
                "content": b'{"event_type": "join_guild", "guild_name": ' + b"[" * 300 + b"]" * 300 + b"}",
                "headers": {"content-type": "application/json"},
            },
            422,
            "guild_name",
            "type",
        ),
        (
            "POST",
            "/v1/events",
            {"content": b"[" * 5000 + b"]" * 5000, "headers": {"content-type": "application/json"}},
            400,
            "(body)",
            "json",
        ),
        ("GET", "/join_guild?guild_name=a&guild_name=b", {}, 422, "guild_name", "unique"),
        ("GET", "/join_guild", {"headers": {"idempotency-key": "k" * 256}}, 422, "Idempotency-Key", "format"),
    ],
)
def test_bad_input_is_refused_by_name_and_nothing_is_produced(
    client: Client,
    stack: Settings,
    method: str,
    path: str,
    kwargs: dict[str, object],
    status: int,
    field: str,
    rule: str,
) -> None:
    test_client, topic = client
    response = test_client.request(method, path, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field
    assert response.json()["error"]["rule"] == rule
    assert response.json()["error"]["message"]
    assert produced(stack, topic) == []


def test_an_idempotency_key_gives_every_route_the_same_ids_on_a_retry(client: Client, stack: Settings) -> None:
    test_client, topic = client
    key = {"Idempotency-Key": str(uuid.uuid4())}
    for _ in range(2):  # a client's retry: same request, same key
        assert test_client.get("/join_guild?guild_name=Owls", headers=key).status_code == 200
        batch = {"events": [{"event_type": "default"}, {"event_type": "default", "event_id": str(uuid.uuid4())}]}
        assert test_client.post("/v1/events", json=batch, headers=key).status_code == 200
    ids = [e["event_id"] for e in produced(stack, topic)]
    assert ids[0] == ids[3] == idempotent_id(key["Idempotency-Key"]), "the GET's id, derived from the key"
    assert ids[1] == ids[4] == idempotent_id(key["Idempotency-Key"], 0), "a batch's events by their index"
    assert ids[2] != ids[5], "an event's own event_id wins over the key"
    assert len(set(ids)) == 4


def test_ingest_key_when_configured(stack: Settings, unique: str) -> None:
    ensure_topic(stack.kafka, unique, partitions=1)
    with TestClient(create_app(app_settings(stack, unique, ingest_key="s3cret"))) as test_client:
        assert test_client.get("/").status_code == 401
        assert test_client.get("/", headers={"X-Ingest-Key": "wrong"}).status_code == 401
        assert test_client.get("/", headers={"X-Ingest-Key": "s3cret"}).status_code == 200
    assert len(produced(stack, unique)) == 1


def test_operations_endpoints(client: Client) -> None:
    test_client, _topic = client
    assert test_client.get("/healthz").json() == {"status": "ok"}
    assert test_client.get("/readyz").status_code == 200
    test_client.get("/purchase_a_sword")
    test_client.get("/purchase_a_sword?price=abc")
    metrics = test_client.get("/metrics").text
    assert 'gamepipe_api_events_total{event_type="purchase_sword",outcome="accepted"}' in metrics
    assert 'gamepipe_api_events_total{event_type="purchase_sword",outcome="rejected"}' in metrics
    assert "gamepipe_api_produce_seconds_bucket" in metrics
    assert "gamepipe_api_requests_in_flight" in metrics
    spec = test_client.get("/openapi.json").json()
    assert set(SEED_ROUTES) | {"/v1/events"} <= set(spec["paths"])
