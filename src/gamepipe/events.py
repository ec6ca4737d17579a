"""The event contract: one source of truth, `schemas/*.v<N>.json`.

In: the JSON Schemas (an envelope every event carries, one payload schema per event
type and version). Out: everything derived from them, so nothing can drift:

- `Contract.validate(event)` for the API: the JSON Schema (compiled with fastjsonschema),
  then each field's storage rule (`validity.py`), so that what the API accepts the
  stream stores with the values sent;
- `Contract.columns()` / `Contract.table_columns(event_type)`: logical column types
  that the stream turns into its Spark read schema and table DDL;
- `Contract.coerce_query(event_type, params)` to type the seed's query parameters.

Events are flat JSON objects: envelope fields and payload fields side by side, as the
seed's events were. No I/O here except reading the schema files in `load_contract`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastjsonschema

from gamepipe import validity
from gamepipe.errors import ContractError

ENVELOPE = "envelope"
SCHEMA_FILE = re.compile(r"^(?P<name>[a-z][a-z0-9_]*)\.v(?P<version>[1-9][0-9]*)\.json$")

# The seed's routes: path -> (event_type, response text). The API serves them with
# these texts; the load generator knows which event each path logs from here.
SEED_ROUTES: dict[str, tuple[str, str]] = {
    "/": ("default", "Welcome to Legends of Zion!\n"),
    "/purchase_a_sword": ("purchase_sword", "Sword Purchased!\n"),
    "/purchase_a_shield": ("purchase_shield", "Shield Purchased!\n"),
    "/join_guild": ("join_guild", "Guild Joined!\n"),
    "/purchase_a_potion": ("purchase_potion", "Potion Purchased!\n"),
}

# The seed's table columns, first in every table so its queries run unchanged.
SEED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("raw_event", "string"),
    ("timestamp", "timestamp"),
    ("accept", "string"),
    ("host", "string"),
    ("user_agent", "string"),
    ("event_type", "string"),
)


@dataclass(frozen=True)
class Violation:
    """Why an event breaks the contract: which field, which rule, in words."""

    field: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "message": self.message}


def logical_type(name: str, prop: Mapping[str, Any]) -> str:
    """Map one JSON Schema property to a logical column type.

    Types: string, long, double, boolean, timestamp, decimal(p,s).
    """
    types = prop.get("type")
    kinds = {types} if isinstance(types, str) else set(types or [])
    kinds.discard("null")
    if len(kinds) != 1:
        raise ContractError(f"property {name!r}: exactly one non-null type is needed, got {types!r}")
    kind = kinds.pop()
    if kind == "string":
        return "timestamp" if prop.get("format") == "date-time" else "string"
    if kind == "integer":
        return "long"
    if kind == "number":
        if "x-decimal" in prop:
            precision, scale = prop["x-decimal"]
            return f"decimal({precision},{scale})"
        return "double"
    if kind == "boolean":
        return "boolean"
    raise ContractError(f"property {name!r}: type {kind!r} has no column mapping")


@dataclass(frozen=True)
class EventSchema:
    event_type: str
    version: int
    payload: Mapping[str, Any]

    @property
    def fields(self) -> Mapping[str, Any]:
        props: Mapping[str, Any] = self.payload.get("properties", {})
        return props


@dataclass
class Contract:
    envelope: Mapping[str, Any]
    # event_type -> version -> schema
    schemas: dict[str, dict[int, EventSchema]]
    _validators: dict[tuple[str, int, bool], Callable[[Any], Any]] = field(default_factory=dict)
    # (event_type, version, request_fields_checked) -> fields with a storage rule: (name, logical type, schema)
    _rules: dict[tuple[str, int, bool], list[tuple[str, str, Mapping[str, Any]]]] = field(default_factory=dict)
    _request_check: Callable[[Any], Any] | None = None

    def __post_init__(self) -> None:
        for event_type, versions in self.schemas.items():
            for schema in versions.values():
                clash = set(schema.fields) & set(self.envelope["properties"])
                if clash:
                    raise ContractError(f"{event_type} v{schema.version} redefines envelope fields {sorted(clash)}")
        # A field used by several event types must have one column type everywhere.
        self.columns()

    # -- what exists -------------------------------------------------------------
    @property
    def event_types(self) -> list[str]:
        return sorted(self.schemas)

    def latest_version(self, event_type: str) -> int:
        return max(self.schemas[event_type])

    def full_schema(self, event_type: str, version: int, request_fields_checked: bool = False) -> dict[str, Any]:
        """Envelope + payload as one closed JSON Schema (no other fields allowed).

        With `request_fields_checked`, the fields a request gives all its events
        (REQUEST_FIELDS) are left unchecked: the API checks them once per request.
        """
        payload = self.schemas[event_type][version]
        env = self.envelope
        props = {**env["properties"], **payload.fields}
        # A time's format is checked by its storage rule (validity.py), stricter and with a
        # message that says what to send.
        props = {name: _without_format(prop) for name, prop in props.items()}
        props["event_type"] = {"const": event_type}
        props["schema_version"] = {"const": version}
        if request_fields_checked:
            props.update({name: {} for name in REQUEST_FIELDS})
        return {
            "type": "object",
            "properties": props,
            "required": sorted(set(env.get("required", [])) | set(payload.payload.get("required", []))),
            "additionalProperties": False,
        }

    # -- validation (the API) ----------------------------------------------------
    def validate_request_fields(self, common: Mapping[str, Any]) -> Violation | None:
        """Check the envelope fields one request gives all its events (headers, time)."""
        if self._request_check is None:
            env = self.envelope
            self._request_check = fastjsonschema.compile(
                {
                    "type": "object",
                    "properties": {name: env["properties"][name] for name in REQUEST_FIELDS},
                    "required": [name for name in env.get("required", []) if name in REQUEST_FIELDS],
                    "additionalProperties": False,
                }
            )
        return _run_check(self._request_check, common)

    def validate(self, event: dict[str, Any], request_fields_checked: bool = False) -> Violation | None:
        """None when `event` is valid, else the first violation found. A valid event's
        times are rewritten in place in UTC (`validity.format_timestamp`: the same
        instant). Pass `request_fields_checked` only after `validate_request_fields` passed."""
        event_type = event.get("event_type")
        if not isinstance(event_type, str) or event_type not in self.schemas:
            known = ", ".join(self.event_types)
            return Violation("event_type", "enum", f"unknown event_type {event_type!r}; known: {known}")
        version = event.get("schema_version")
        if not isinstance(version, int) or version not in self.schemas[event_type]:
            known_v = sorted(self.schemas[event_type])
            return Violation(
                "schema_version", "enum", f"{event_type} has no schema version {version!r}; known: {known_v}"
            )
        key = (event_type, version, request_fields_checked)
        check = self._validators.get(key)
        if check is None:
            check = fastjsonschema.compile(self.full_schema(event_type, version, request_fields_checked))
            self._validators[key] = check
            self._rules[key] = self._storage_rules(event_type, version, request_fields_checked)
        problem = _run_check(check, event)
        if problem is not None:
            return problem
        received_at = event.get("received_at")
        for name, logical, prop in self._rules[key]:
            if name not in event:
                continue
            value, broken = validity.check(name, logical, prop, event[name], received_at)
            if broken is not None:
                return Violation(name, *broken)
            event[name] = value
        return None

    def _storage_rules(
        self, event_type: str, version: int, request_fields_checked: bool
    ) -> list[tuple[str, str, Mapping[str, Any]]]:
        props = {**self.envelope["properties"], **self.schemas[event_type][version].fields}
        # `validate` pinned the type and version to known ones before any rule runs.
        skip = {"event_type", "schema_version"} | (set(REQUEST_FIELDS) if request_fields_checked else set())
        rules = []
        for name, prop in props.items():
            kind = logical_type(name, prop)
            if name not in skip and (kind in ("timestamp", "double", "long") or kind.startswith("decimal(")):
                rules.append((name, kind, prop))
        return rules

    def coerce_query(self, event_type: str, params: Mapping[str, str]) -> tuple[dict[str, Any], Violation | None]:
        """Type query-string values by the payload schema (GET routes carry strings)."""
        schema = self.schemas[event_type][self.latest_version(event_type)]
        allowed = {**schema.fields, **{k: self.envelope["properties"][k] for k in CLIENT_ENVELOPE_FIELDS}}
        out: dict[str, Any] = {}
        for key, raw in params.items():
            prop = allowed.get(key)
            if prop is None:
                return out, Violation(key, "additionalProperties", f"unknown parameter {key!r} for {event_type}")
            kind = logical_type(key, prop)
            value: Any = raw
            if kind == "long":
                value = int(raw) if INTEGER_TEXT.fullmatch(raw) else None
            elif kind == "double" or kind.startswith("decimal"):
                value = validity.parse_decimal_text(raw)
            elif kind == "boolean":
                value = {"true": True, "false": False}.get(raw.lower())
            if value is None:
                example = {"long": "42", "boolean": "true"}.get(kind, "12.50")
                return out, Violation(key, "type", f"{key}={raw!r} is not a valid {kind} (like {example})")
            out[key] = value
        return out, None

    # -- columns (the stream and the tables) -------------------------------------
    def columns(self) -> dict[str, str]:
        """Every column any event can have, envelope first: name -> logical type."""
        cols: dict[str, str] = {}
        sources: dict[str, str] = {}
        for name, prop in self.envelope["properties"].items():
            cols[name] = logical_type(name, prop)
            sources[name] = ENVELOPE
        for event_type in self.event_types:
            for schema in self.schemas[event_type].values():
                for name, prop in schema.fields.items():
                    kind = logical_type(name, prop)
                    if name in cols and cols[name] != kind:
                        raise ContractError(
                            f"field {name!r} is {cols[name]} in {sources[name]} but {kind} in {event_type}"
                        )
                    cols.setdefault(name, kind)
                    sources.setdefault(name, event_type)
        return cols

    def table_columns(self, event_type: str | None) -> list[tuple[str, str]]:
        """Columns of a routed table: the seed's, then the envelope, then the payload
        (of every event type when `event_type` is None: the all-events table)."""
        seed = dict(SEED_COLUMNS)
        cols = list(SEED_COLUMNS)
        for name, prop in self.envelope["properties"].items():
            if name not in seed:
                cols.append((name, logical_type(name, prop)))
        seen = {name for name, _ in cols}
        for each in [event_type] if event_type else self.event_types:
            for version in sorted(self.schemas[each]):
                for name, prop in self.schemas[each][version].fields.items():
                    if name not in seen:
                        cols.append((name, logical_type(name, prop)))
                        seen.add(name)
        return cols


# The dead-letter table: Kafka records that are not valid events, with the reason.
REJECTED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("reason", "string"),
    ("raw_value", "binary"),
    ("raw_event", "string"),
    ("topic", "string"),
    ("partition", "int"),
    ("offset", "long"),
    ("timestamp", "timestamp"),
    ("rejected_at", "timestamp"),
)

# Envelope fields a client may set itself (the rest are the server's).
CLIENT_ENVELOPE_FIELDS = ("event_id", "client_ts", "player_id", "session_id")
# Envelope fields the server takes from the request, the same for all its events.
REQUEST_FIELDS = ("received_at", "host", "user_agent", "accept", "client_ip_hash", "is_synthetic")


INTEGER_TEXT = re.compile(r"-?\d{1,19}")


def _without_format(prop: Mapping[str, Any]) -> Mapping[str, Any]:
    if prop.get("format") != "date-time":
        return prop
    return {k: v for k, v in prop.items() if k != "format"}


def _run_check(check: Callable[[Any], Any], data: Mapping[str, Any]) -> Violation | None:
    try:
        check(data)
    except fastjsonschema.JsonSchemaValueException as exc:
        path = ".".join(str(p) for p in exc.path[1:]) or "(event)"
        return Violation(path, str(exc.rule), str(exc.message).replace("data.", "", 1))
    return None


def load_contract(schemas_dir: Path) -> Contract:
    envelope: dict[str, Any] | None = None
    schemas: dict[str, dict[int, EventSchema]] = {}
    for path in sorted(schemas_dir.glob("*.json")):
        match = SCHEMA_FILE.match(path.name)
        if not match:
            raise ContractError(f"{path}: schema files are named <event_type>.v<N>.json")
        doc = json.loads(path.read_text())
        name, version = match["name"], int(match["version"])
        if doc.get("title") != name:
            raise ContractError(f"{path}: title {doc.get('title')!r} must equal the file's name {name!r}")
        if name == ENVELOPE:
            envelope = doc
            continue
        schemas.setdefault(name, {})[version] = EventSchema(name, version, doc)
    if envelope is None:
        raise ContractError(f"{schemas_dir}: envelope.v1.json is missing")
    if not schemas:
        raise ContractError(f"{schemas_dir}: no event schemas found")
    return Contract(envelope=envelope, schemas=schemas)


def utc_now_ms() -> str:
    """The server's clock as ISO-8601 UTC with milliseconds, e.g. 2026-11-28T07:53:25.123Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
