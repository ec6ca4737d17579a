"""/openapi.json, generated from the event contract (so it cannot drift from it).

In: the `Contract`. Out: an OpenAPI 3.1 document: the seed's GET routes with their
query parameters, `POST /v1/events` with one schema per event type, the error shape.
"""

from __future__ import annotations

from typing import Any

from gamepipe.events import CLIENT_ENVELOPE_FIELDS, Contract

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["field", "rule", "message"],
            "properties": {"field": {"type": "string"}, "rule": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _client_schema(contract: Contract, event_type: str) -> dict[str, Any]:
    """What a client sends for one event type: its payload plus the client's envelope fields."""
    version = contract.latest_version(event_type)
    payload = contract.schemas[event_type][version]
    props: dict[str, Any] = {
        "event_type": {"const": event_type},
        "schema_version": {"type": "integer", "enum": sorted(contract.schemas[event_type])},
    }
    for name in CLIENT_ENVELOPE_FIELDS:
        props[name] = contract.envelope["properties"][name]
    props.update(payload.fields)
    return {"type": "object", "required": ["event_type"], "properties": props, "additionalProperties": False}


UNAVAILABLE = (
    "not acknowledged in time: the event may or may not be stored; retry after Retry-After with the same "
    "event_id (named in the body) or Idempotency-Key, and it lands once"
)
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "1-255 printable ASCII characters naming this request: each event's id is derived from it "
    "(a batch's by index) unless the event has its own event_id, so a retry lands once",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}


def build(contract: Contract, seed_routes: dict[str, tuple[str, str]]) -> dict[str, Any]:
    schemas: dict[str, Any] = {"Error": ERROR}
    for event_type in contract.event_types:
        schemas[f"Event_{event_type}"] = _client_schema(contract, event_type)
    event_ref = {"oneOf": [{"$ref": f"#/components/schemas/Event_{t}"} for t in contract.event_types]}
    schemas["Event"] = event_ref
    schemas["Batch"] = {
        "type": "object",
        "required": ["events"],
        "properties": {
            "events": {"type": "array", "minItems": 1, "maxItems": 500, "items": {"$ref": "#/components/schemas/Event"}}
        },
    }
    paths: dict[str, Any] = {}
    for path, (event_type, text) in seed_routes.items():
        client = _client_schema(contract, event_type)["properties"]
        params = [
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": {k: v for k, v in prop.items() if k != "description"},
            }
            for name, prop in client.items()
            if name not in ("event_type", "schema_version")
        ]
        paths[path] = {
            "get": {
                "summary": f"Log a {event_type} event (the seed's route)",
                "parameters": [*params, IDEMPOTENCY_KEY],
                "responses": {
                    "200": {"description": text.strip(), "content": {"text/plain": {"schema": {"type": "string"}}}},
                    "422": _error("a parameter breaks the event's schema"),
                    "503": _error(UNAVAILABLE),
                },
            }
        }
    paths["/v1/events"] = {
        "post": {
            "parameters": [IDEMPOTENCY_KEY],
            "summary": "Log one event, or a batch of up to 500 (1 MiB, 32 KiB per event)",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [{"$ref": "#/components/schemas/Event"}, {"$ref": "#/components/schemas/Batch"}]
                        }
                    }
                },
            },
            "responses": {
                "200": {"description": "every event accepted (in Kafka, acks=all)"},
                "207": {"description": "some events rejected: per-event results"},
                "400": _error("the body is not JSON, or not an event or a batch"),
                "413": _error("too large: body, event or batch"),
                "415": _error("not application/json"),
                "422": _error("every event breaks the contract (413: every event is too large)"),
                "503": _error(UNAVAILABLE),
            },
        }
    }
    for path in ("/healthz", "/readyz", "/metrics"):
        paths[path] = {
            "get": {
                "summary": f"operations: {path[1:]}",
                "responses": {"200": {"description": "ok"}, "503": {"description": "not ready"}},
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "gamepipe ingestion API", "version": "1"},
        "paths": paths,
        "components": {"schemas": schemas},
    }
