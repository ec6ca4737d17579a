"""The envelope the server sets: ids, allowlisted headers, hashed addresses."""

from __future__ import annotations

import uuid

from gamepipe.api.envelope import HEADER_ALLOWLIST, build_event, hash_ip, request_envelope

HEADERS = {
    "host": "user1.comcast.com",
    "user-agent": "ApacheBench/2.3",
    "accept": "*/*",
    "cookie": "session=secret",
    "authorization": "Bearer secret",
    "x-forwarded-for": "1.2.3.4",
}


def test_only_allowlisted_headers_are_kept() -> None:
    event = build_event("default", 1, {}, request_envelope(HEADERS, "10.0.0.1", "salt"))
    assert event["host"] == "user1.comcast.com"
    assert event["user_agent"] == "ApacheBench/2.3"
    assert event["accept"] == "*/*"
    assert "secret" not in repr(event)
    assert "1.2.3.4" not in repr(event)
    assert set(HEADER_ALLOWLIST) == {"host", "user-agent", "accept"}


def test_server_sets_a_uuid7_unless_the_client_sent_a_valid_id() -> None:
    generated = build_event("default", 1, {}, request_envelope({}, None, "s"))["event_id"]
    assert uuid.UUID(generated).version == 7
    mine = str(uuid.uuid4())
    assert build_event("default", 1, {"event_id": mine}, request_envelope({}, None, "s"))["event_id"] == mine
    assert (
        build_event("default", 1, {"event_id": "not-a-uuid"}, request_envelope({}, None, "s"))["event_id"]
        != "not-a-uuid"
    )


def test_client_cannot_override_server_fields() -> None:
    event = build_event(
        "default", 1, {"received_at": "1999-01-01T00:00:00Z", "is_synthetic": True}, request_envelope({}, None, "s")
    )
    assert event["received_at"] != "1999-01-01T00:00:00Z"
    assert event["is_synthetic"] is False


def test_ip_hash_is_salted_and_not_the_ip() -> None:
    a = hash_ip("10.0.0.1", "salt-a")
    assert a and "10.0.0.1" not in a
    assert a != hash_ip("10.0.0.1", "salt-b")
    assert hash_ip(None, "salt-a") is None
