"""The storage rules beyond JSON Schema (validity.py), through `Contract.validate` and
`Contract.coerce_query`: the inputs issue 16 found accepted and then lost or altered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gamepipe.api.envelope import build_event, request_envelope
from gamepipe.config import load_settings
from gamepipe.events import Contract, load_contract
from gamepipe.validity import check, format_timestamp, parse_timestamp

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract(load_settings().schemas_dir)


def event(**fields: Any) -> dict[str, Any]:
    common = request_envelope({"host": "h"}, "10.0.0.1", "salt")
    common["received_at"] = format_timestamp(NOW)
    return build_event("purchase_sword", 1, fields, common)


def at(delta: timedelta) -> str:
    return format_timestamp(NOW + delta)


@pytest.mark.parametrize(
    ("client_ts", "rule"),
    [
        ("2026-12-01T10:00:60Z", "format"),  # a leap second: Spark cannot parse it
        ("2026-12-01t10:00:00z", "format"),  # lowercase: Spark cannot parse it
        ("2026-12-01T10:00:00.1234567Z", "format"),  # beyond microseconds: Spark would cut it
        ("2026-02-30T10:00:00Z", "format"),
        ("2026-12-01T24:00:00Z", "format"),
        ("2026-12-01T10:00:00+24:00", "format"),
        ("2026-12-01 10:00:00Z", "format"),
        ("0001-01-01T00:00:00Z", "window"),
        ("9999-12-31T23:59:59Z", "window"),
        (at(-timedelta(days=30, seconds=1)), "window"),
        (at(timedelta(days=1, seconds=1)), "window"),
    ],
)
def test_client_times_the_stream_could_not_store_as_sent_are_refused(
    contract: Contract, client_ts: str, rule: str
) -> None:
    violation = contract.validate(event(client_ts=client_ts))
    assert violation is not None
    assert (violation.field, violation.rule) == ("client_ts", rule)
    assert client_ts in violation.message


@pytest.mark.parametrize(
    ("client_ts", "stored"),
    [
        (at(-timedelta(days=30)), "2026-11-01T10:00:00.000Z"),  # offline play synced a month later
        (at(timedelta(days=1)), "2026-12-02T10:00:00.000Z"),
        ("2026-12-01T15:30:00.5+05:30", "2026-12-01T10:00:00.500Z"),  # the same instant, in UTC
        ("2026-12-01T10:00:00.123456Z", "2026-12-01T10:00:00.123456Z"),
        ("2026-12-01T09:59:59.999999-00:00", "2026-12-01T09:59:59.999999Z"),
    ],
)
def test_accepted_client_times_become_the_same_instant_in_utc(contract: Contract, client_ts: str, stored: str) -> None:
    sent = event(client_ts=client_ts)
    assert contract.validate(sent) is None
    assert sent["client_ts"] == stored
    assert parse_timestamp(stored) == parse_timestamp(client_ts)


@pytest.mark.parametrize(
    ("price", "rule"),
    [
        (0.005, "multipleOf"),
        (12.345, "multipleOf"),
        (1e-7, "multipleOf"),
        (float("nan"), "finite"),
        (float("inf"), "maximum"),
        (-0.01, "minimum"),
        (1_000_000.01, "maximum"),
    ],
)
def test_prices_the_column_cannot_hold_are_refused(contract: Contract, price: float, rule: str) -> None:
    violation = contract.validate(event(price=price))
    assert violation is not None
    assert violation.field == "price"
    # NaN and infinity slip past JSON Schema's bounds (every comparison with NaN is false)
    assert violation.rule in (rule, "finite")


@pytest.mark.parametrize("price", [0, 0.01, 12.5, 999_999.99, -0.0, 1_000_000])
def test_prices_in_cents_are_accepted(contract: Contract, price: float) -> None:
    assert contract.validate(event(price=price)) is None


NUMBERS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    # around the column's bounds: ten integer digits, two decimals
    st.floats(min_value=1e9, max_value=1e11).map(lambda x: round(x, 2)),
    st.floats(min_value=-1.0, max_value=1.0).map(lambda x: round(x, 3)),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.integers(min_value=10**10 - 10, max_value=10**10 + 10),
    st.decimals(min_value=-(10**14), max_value=10**14, allow_nan=False, allow_infinity=False, places=4),
)


@given(NUMBERS)
def test_a_decimal_column_takes_a_number_as_its_exact_decimal_value_says(value: float | int | Decimal) -> None:
    """The digits are counted on the number's text, not by `Decimal`'s arithmetic: both
    must agree, a float read as the shortest text that reads back as it."""
    exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    exponent = exact.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > 2:
        expected = "multipleOf"
    elif abs(exact) >= 10**10:
        expected = "maximum"
    else:
        expected = None
    _, problem = check("price", "decimal(12,2)", {}, value, None)
    assert (problem[0] if problem else None) == expected


@pytest.mark.parametrize(
    ("raw", "accepted"),
    [
        ("12.50", Decimal("12.50")),
        ("12.500", Decimal("12.5")),
        ("nan", None),
        ("inf", None),
        ("1e3", None),
        ("1_000", None),
        (" 5", None),
        ("0.005", "multipleOf"),
        ("1.0000000000000001", "multipleOf"),
    ],
)
def test_query_string_prices_are_plain_decimals(contract: Contract, raw: str, accepted: object) -> None:
    fields, problem = contract.coerce_query("purchase_sword", {"price": raw})
    if accepted is None:
        assert problem is not None and (problem.field, problem.rule) == ("price", "type")
        return
    assert problem is None
    sent = event(**fields)
    violation = contract.validate(sent)
    if isinstance(accepted, Decimal):
        assert violation is None
        assert Decimal(repr(sent["price"])) == accepted  # a float in the JSON, the exact cents
    else:
        assert violation is not None and violation.rule == accepted


def test_an_unknown_schema_version_is_refused_not_relabelled(contract: Contract) -> None:
    sent = {**event(), "schema_version": 0}
    violation = contract.validate(sent)
    assert violation is not None and violation.field == "schema_version"
