"""Build the event the server produces: the client's payload plus the envelope.

Pure logic, no I/O. In: event type, payload fields, and the request's common envelope
(headers, client address, receive time). Out: a flat dict valid under the contract. Only allowlisted headers are copied:
never Cookie, Authorization or anything else a client sent.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

import uuid_utils

from gamepipe.events import utc_now_ms

# request header -> event field. Anything not listed never reaches Kafka.
HEADER_ALLOWLIST: Mapping[str, str] = {
    "host": "host",
    "user-agent": "user_agent",
    "accept": "accept",
}


def new_event_id() -> str:
    return str(uuid_utils.uuid7())


def valid_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def hash_ip(ip: str | None, salt: str) -> str | None:
    if not ip:
        return None
    return hashlib.sha256(f"{salt}:{ip}".encode()).hexdigest()[:32]


def request_envelope(
    headers: Mapping[str, str], client_ip: str | None, ip_salt: str, is_synthetic: bool = False
) -> dict[str, Any]:
    """The envelope fields one request gives all its events (computed once per request)."""
    common: dict[str, Any] = {"received_at": utc_now_ms()}
    for header, name in HEADER_ALLOWLIST.items():
        common[name] = headers.get(header)
    common["client_ip_hash"] = hash_ip(client_ip, ip_salt)
    common["is_synthetic"] = is_synthetic
    return common


def build_event(event_type: str, version: int, fields: Mapping[str, Any], common: Mapping[str, Any]) -> dict[str, Any]:
    """The envelope first, then the payload; a valid client event_id is kept."""
    event: dict[str, Any] = {
        "event_id": fields["event_id"] if valid_uuid(fields.get("event_id")) else new_event_id(),
        "event_type": event_type,
        "schema_version": version,
        **common,
    }
    for key, value in fields.items():
        if key not in event:  # the server's own fields are never taken from the client
            event[key] = value
    return event
