"""One validity: what JSON Schema cannot say about a value the stream must store as sent.

Pure logic, no I/O. The API checks an event against its JSON Schema (types, lengths,
patterns, bounds) and then, per field, against the rule of the field's logical type
(`events.logical_type`), so that every event it accepts is stored by the stream's Spark
parse with the values sent (held together by tests/integration/test_one_validity.py):

- timestamp: RFC 3339 as `YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|±HH:MM)`; seconds 00-59 (Spark has
  no leap second: `:60` does not parse), at most six fraction digits (Spark keeps
  microseconds and would cut the rest), an offset within ±23:59; with
  `x-received-within` in the schema, within that many days of the event's `received_at`.
  An accepted timestamp is rewritten in UTC with a `Z` (the same instant), the one form
  Spark is sure to read alike (a lowercase `t` or `z` does not parse there);
- decimal(p,s): finite, at most s decimals (Spark rounds 0.005 to 0.01), fewer than
  10^(p-s) (Spark cannot hold more: the record would be rejected);
- double: finite (JSON has no NaN: the encoder would write null);
- long: within 64 bits.

`check(...)` returns the value to produce (normalised) and, if it cannot be stored, the
rule it breaks and why (`Problem`); `events.Contract.validate` names the field.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

RFC3339 = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})T(?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})"
    r"(?:\.(?P<frac>\d{1,9}))?(?P<zone>Z|[+-]\d{2}:\d{2})"
)
MAX_FRACTION_DIGITS = 6
WINDOW_KEY = "x-received-within"  # {"days_before": 30, "days_after": 1}
LONG_RANGE = (-(2**63), 2**63 - 1)

Problem = tuple[str, str]  # (rule, message)


def parse_timestamp(text: str) -> datetime | str:
    """The instant `text` names, timezone-aware, or why it is not one we store."""
    match = RFC3339.fullmatch(text)
    if match is None:
        return "is not an RFC 3339 time like 2026-12-01T10:00:00.000Z (T and Z in capitals)"
    if match["s"] == "60":
        return "has second 60 (a leap second), which cannot be stored: send :59.999 or the next minute's :00"
    frac = match["frac"] or ""
    if len(frac) > MAX_FRACTION_DIGITS:
        return f"has {len(frac)} fraction digits; at most {MAX_FRACTION_DIGITS} (microseconds) are stored"
    zone = match["zone"]
    try:
        if zone == "Z":
            tz: timezone = UTC
        else:
            hours, minutes = int(zone[1:3]), int(zone[4:6])
            if minutes > 59:
                raise ValueError(zone)
            sign = -1 if zone[0] == "-" else 1
            tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
        year, month, day = (int(x) for x in match["date"].split("-"))
        return datetime(
            year, month, day, int(match["h"]), int(match["m"]), int(match["s"]), int(frac.ljust(6, "0")), tzinfo=tz
        )
    except (ValueError, OverflowError):
        return "is not a real date and time (month 01-12, day of that month, hour 00-23, minute 00-59, offset ±23:59)"


def format_timestamp(instant: datetime) -> str:
    """UTC with a Z: milliseconds, or microseconds when there are any."""
    spec = "microseconds" if instant.microsecond % 1000 else "milliseconds"
    return instant.astimezone(UTC).isoformat(timespec=spec).replace("+00:00", "Z")


def check(
    name: str, logical: str, prop: Mapping[str, Any], value: Any, received_at: str | None
) -> tuple[Any, Problem | None]:
    """`value` (it passed the JSON Schema) as the event will carry it, or why the stream
    could not store it as sent. A query string's decimal comes as a `Decimal` and leaves
    as the float the JSON carries (at most 12 digits here: the float reads back exact)."""
    if value is None:
        return value, None
    if logical == "timestamp":
        return _timestamp(name, prop, value, received_at)
    if logical.startswith("decimal("):
        precision, scale = decimal_shape(logical)
        problem = _decimal(name, value, precision, scale)
        return (float(value) if isinstance(value, Decimal) else value), problem
    if logical == "double" and isinstance(value, float) and not math.isfinite(value):
        return value, ("finite", f"{name} must be a finite number, got {value!r}")
    if logical == "long" and isinstance(value, int) and not LONG_RANGE[0] <= value <= LONG_RANGE[1]:
        return value, ("range", f"{name} must fit in 64 bits, got {value}")
    return value, None


def _timestamp(name: str, prop: Mapping[str, Any], value: Any, received_at: str | None) -> tuple[Any, Problem | None]:
    parsed = parse_timestamp(value)
    if isinstance(parsed, str):
        return value, ("format", f"{name} {value!r} {parsed}")
    window = prop.get(WINDOW_KEY)
    if window and received_at is not None:
        received = parse_timestamp(received_at)
        assert isinstance(received, datetime), f"the server's received_at {received_at!r} is not RFC 3339"
        earliest = received - timedelta(days=window["days_before"])
        latest = received + timedelta(days=window["days_after"])
        if not earliest <= parsed <= latest:
            return value, (
                "window",
                f"{name} {value!r} is more than {window['days_before']} days before or {window['days_after']} "
                f"day(s) after the time the server received it ({received_at}); send the device's real clock",
            )
    return format_timestamp(parsed), None


@functools.cache
def decimal_shape(logical: str) -> tuple[int, int]:
    """`decimal(12,2)` -> (12, 2)."""
    precision, scale = (int(x) for x in logical[len("decimal(") : -1].split(","))
    return precision, scale


def _decimal(name: str, value: Any, precision: int, scale: int) -> Problem | None:
    if isinstance(value, float) and not math.isfinite(value):
        return ("finite", f"{name} must be a finite number, got {value!r}")
    decimals, integer_digits = _digits(value)
    if decimals > scale:
        return ("multipleOf", f"{name} {value!r} has more than {scale} decimals; the column holds cents")
    if integer_digits > precision - scale:
        return ("maximum", f"{name} {value!r} has more than {precision - scale} integer digits")
    return None


def _digits(value: int | float | Decimal) -> tuple[int, int]:
    """(decimals, integer digits) of a finite number as the client wrote it, counted on its
    text: a float's repr, the shortest text that reads back as it (12.500 is 12.5: one
    decimal). Plain digits, the common case, cost a third of `Decimal`'s arithmetic."""
    text = repr(value) if isinstance(value, float) else ""
    if not text or "e" in text:  # 1e-07, an int or a Decimal: written out in plain digits
        text = format(Decimal(text or value), "f")
    whole, _, fraction = text.lstrip("-").partition(".")
    return len(fraction.rstrip("0")), len(whole.lstrip("0"))


DECIMAL_TEXT = re.compile(r"-?\d{1,30}(?:\.\d{1,30})?")


def parse_decimal_text(text: str) -> Decimal | None:
    """A query string's decimal (`12.50`), exactly, or None if it is not plain digits with
    an optional point (no exponent, no `nan`, no underscores: what `float()` would take)."""
    if DECIMAL_TEXT.fullmatch(text) is None:
        return None
    return Decimal(text)
