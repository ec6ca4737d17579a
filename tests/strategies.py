"""Hypothesis strategies for events at the contract's edges, derived from `schemas/`.

A `Sample` is one request a client could send: a JSON body for POST /v1/events, or a
query string for a seed GET route. Field values come from each field's logical type
(events.logical_type) and its schema bounds: strings at and around their length limits,
unicode, control characters; decimals at the cent and below it, negative zero, huge,
NaN and Infinity; times with offsets, fractions, leap seconds, lowercase letters,
extreme years and the edges of the accepted window around now; nesting a thousand
levels deep; unknown and server-only fields; odd schema versions and id spellings.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from gamepipe.events import CLIENT_ENVELOPE_FIELDS, SEED_ROUTES, Contract, logical_type

NESTED = "\x00nested\x00"  # placeholder for a nested value, spliced into the body as raw JSON


@dataclass
class Sample:
    """One request: `json_body` (raw bytes, POST) or `query` (pairs, GET `path`)."""

    event_type: str
    fields: dict[str, Any]  # what the client sends, before encoding
    path: str = "/v1/events"
    query: list[tuple[str, str]] | None = None
    nest_depth: int = 0
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> bytes:
        text = json.dumps({"event_type": self.event_type, **self.fields})  # NaN/Infinity: not JSON
        if self.nest_depth:
            text = text.replace(json.dumps(NESTED), "[" * self.nest_depth + "]" * self.nest_depth)
        return text.encode("utf-8", "surrogatepass")


def _times(now: datetime) -> st.SearchStrategy[str]:
    offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
    near = st.floats(-31, 2, allow_nan=False).map(lambda days: now + timedelta(days=days))
    anywhere = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(
        lambda d: d.replace(tzinfo=UTC)
    )

    @st.composite
    def spelled(draw: st.DrawFn) -> str:
        instant = draw(st.one_of(near, near, anywhere))
        local = instant.astimezone(draw(st.one_of(st.just(UTC), offsets)))
        digits = draw(st.sampled_from([0, 0, 3, 3, 6, 1, 2, 7, 9]))
        fraction = f"{local.microsecond:06d}{draw(st.integers(0, 999)):03d}"[:digits]
        zone = local.strftime("%z")
        zone = draw(st.sampled_from(["Z", "z", "+00:00", "-00:00"])) if zone == "+0000" else f"{zone[:3]}:{zone[3:]}"
        sep = draw(st.sampled_from(["T", "T", "T", "t", " "]))
        second = draw(st.sampled_from([f"{local.second:02d}"] * 8 + ["60", "61"]))
        text = f"{local:%Y-%m-%d}{sep}{local:%H:%M}:{second}" + (f".{fraction}" if digits else "") + zone
        return text

    odd = st.sampled_from(
        [
            "",
            "now",
            "2026-12-01",
            "2026-12-01T10:00Z",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-12-01T10:00:00+24:00",
            "2026-12-01T10:00:00+05:60",
            "+12026-12-01T10:00:00Z",
            "2026-12-01T10:00:00.Z",
        ]
    )
    return st.one_of(spelled(), spelled(), odd)


def _decimals() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.integers(-5, 2_000_000),
        st.decimals(min_value=-10, max_value=2_000_000, places=2).map(float),
        st.decimals(min_value=0, max_value=100, places=4).map(float),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([0.005, 0.01, -0.0, 1e308, 1e-7, 999_999.99, 1_000_000, 1_000_000.01, 12.5, 1e2]),
    )


def _texts(max_length: int | None, pattern: str | None) -> st.SearchStrategy[Any]:
    limit = max_length or 64
    at_limit = st.integers(max(limit - 1, 0), limit + 1)
    return st.one_of(
        st.text(max_size=12),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
        at_limit.map(lambda n: "é" * n),
        at_limit.map(lambda n: "😀" * n),
        st.sampled_from(["", "\x00", "a\x00b", "\u202egnp", "\r\n\t", "'; drop table x; --", "\\", '"']),
        *([st.from_regex(pattern, fullmatch=True)] if pattern else []),
        st.sampled_from(["EUR", "USD", "eur", "EURO", "€"]),
        st.integers(),
        st.booleans(),
        st.none(),
    )


def value_for(name: str, prop: dict[str, Any], now: datetime) -> st.SearchStrategy[Any]:
    kind = logical_type(name, prop)
    if kind == "timestamp":
        return st.one_of(_times(now), st.none(), st.integers())
    if kind.startswith("decimal") or kind == "double":
        return st.one_of(_decimals(), st.just("12.50"), st.none())
    if kind == "long":
        return st.one_of(st.integers(), st.floats(), st.none())
    if kind == "boolean":
        return st.one_of(st.booleans(), st.sampled_from(["true", 1, None]))
    return _texts(prop.get("maxLength"), prop.get("pattern"))


def _ids() -> st.SearchStrategy[str | None]:
    """How a client spells its event id (None: omit it). The id is fresh per sample."""
    return st.sampled_from([None, "lower", "lower", "upper", "urn", "braces", "hex", "junk", "number"])


def spell_id(form: str) -> Any:
    u = uuid.uuid4()
    return {"lower": str(u), "upper": str(u).upper(), "urn": u.urn, "braces": "{" + str(u) + "}", "hex": u.hex,
            "junk": "not-a-uuid", "number": 7}[form]  # fmt: skip


@st.composite
def samples(draw: st.DrawFn, contract: Contract, now: datetime) -> Sample:
    """One request at the contract's edges: GET on a seed route, or a POSTed event."""
    event_type = draw(st.sampled_from([*contract.event_types, "buy_castle"]))
    known = event_type in contract.schemas
    props: dict[str, Any] = {}
    if known:
        schema = contract.schemas[event_type][contract.latest_version(event_type)]
        props = {
            **{k: contract.envelope["properties"][k] for k in CLIENT_ENVELOPE_FIELDS if k != "event_id"},
            **schema.fields,
        }
    fields: dict[str, Any] = {}
    for name, prop in props.items():
        if draw(st.booleans()):
            fields[name] = draw(value_for(name, prop, now))
    form = draw(_ids())
    if form is not None:
        fields["event_id"] = spell_id(form)
    if draw(st.integers(0, 9)) == 0:
        fields["schema_version"] = draw(st.one_of(st.integers(-1, 3), st.just(True), st.just("1"), st.just(1.0)))
    if draw(st.integers(0, 14)) == 0:
        fields[draw(st.sampled_from(["received_at", "host", "is_synthetic", "colour", "Price", ""]))] = "x"
    nest = 0
    if props and draw(st.integers(0, 14)) == 0:
        fields[draw(st.sampled_from(sorted(props)))] = NESTED
        nest = draw(st.sampled_from([1, 2, 30, 255, 300, 1023, 1100]))
    routes = [path for path, (t, _text) in SEED_ROUTES.items() if t == event_type]
    if routes and not nest and draw(st.integers(0, 2)) == 0:
        query = [(k, _as_query(v)) for k, v in fields.items() if k != "schema_version"]
        query += draw(
            st.lists(
                st.sampled_from(
                    [
                        ("price", "nan"),
                        ("price", "inf"),
                        ("price", "1e3"),
                        ("price", "0.005"),
                        ("price", "12.50"),
                        ("price", " 5"),
                        ("client_ts", "2026-12-01T10:00:60Z"),
                    ]
                ),
                max_size=2,
            )
        )
        return Sample(event_type, fields, path=routes[0], query=query)
    return Sample(event_type, fields, nest_depth=nest)


def _as_query(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
