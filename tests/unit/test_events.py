"""The event contract: loading, validation, derived columns."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from gamepipe.api.envelope import build_event, request_envelope
from gamepipe.config import load_settings
from gamepipe.errors import ContractError
from gamepipe.events import CLIENT_ENVELOPE_FIELDS, REQUEST_FIELDS, SEED_COLUMNS, Contract, load_contract

SCHEMAS = load_settings().schemas_dir


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract(SCHEMAS)


def sword(contract: Contract, **fields: object) -> dict[str, Any]:
    return build_event("purchase_sword", 1, fields, request_envelope({"host": "h"}, "10.0.0.1", "salt"))


def test_seed_event_types_exist(contract: Contract) -> None:
    assert {"default", "purchase_sword", "purchase_shield", "purchase_potion", "join_guild"} <= set(
        contract.event_types
    )


def test_valid_event_passes(contract: Contract) -> None:
    assert contract.validate(sword(contract, sword_type="katana", price=9.99, currency="EUR")) is None


@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        ({"price": "cheap"}, "price", "type"),
        ({"price": -1}, "price", "minimum"),
        ({"currency": "euro"}, "currency", "pattern"),
        ({"guild_name": "x"}, "(event)", "additionalProperties"),
    ],
)
def test_violations_name_field_and_rule(contract, fields, field, rule) -> None:  # type: ignore[no-untyped-def]
    violation = contract.validate(sword(contract, **fields))
    assert violation is not None
    assert (violation.field, violation.rule) == (field, rule)


def test_unknown_type_and_version(contract: Contract) -> None:
    event = sword(contract)
    for changed, field in (({"event_type": "buy_castle"}, "event_type"), ({"schema_version": 99}, "schema_version")):
        violation = contract.validate({**event, **changed})
        assert violation is not None and violation.field == field


def test_query_parameters_are_typed(contract: Contract) -> None:
    fields, violation = contract.coerce_query("purchase_sword", {"price": "12.50", "sword_type": "katana"})
    assert violation is None
    assert fields == {"price": 12.5, "sword_type": "katana"}
    _, bad = contract.coerce_query("purchase_sword", {"price": "abc"})
    assert bad is not None and bad.field == "price"
    _, unknown = contract.coerce_query("purchase_sword", {"host": "evil"})
    assert unknown is not None and unknown.rule == "additionalProperties"


def test_tables_start_with_the_seed_columns(contract: Contract) -> None:
    cols = contract.table_columns("purchase_sword")
    assert cols[: len(SEED_COLUMNS)] == list(SEED_COLUMNS)
    assert ("price", "decimal(12,2)") in cols
    assert ("guild_name", "string") in contract.table_columns("join_guild")


def test_a_field_typed_two_ways_is_refused(tmp_path: Path) -> None:
    schemas = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, schemas)
    doc = json.loads((schemas / "join_guild.v1.json").read_text())
    doc["properties"]["price"] = {"type": "string"}  # price is a decimal elsewhere
    (schemas / "join_guild.v1.json").write_text(json.dumps(doc))
    with pytest.raises(ContractError, match="price"):
        load_contract(schemas)


@pytest.mark.parametrize(
    ("fields", "headers"),
    [
        ({"price": 1.0}, {"host": "h"}),
        ({"price": "x"}, {"host": "h"}),
        ({"price": 1.0}, {"host": "h" * 300}),
        ({"currency": "usd"}, {"user-agent": "a" * 600}),
    ],
)
def test_split_validation_equals_full_validation(contract, fields, headers) -> None:  # type: ignore[no-untyped-def]
    """The API checks request fields once per request, then each event without them:
    together that must accept exactly what full validation accepts."""
    common = request_envelope(headers, "10.0.0.1", "salt")
    event = build_event("purchase_sword", 1, fields, common)
    full = contract.validate(event) is None
    split = contract.validate_request_fields(common) is None and contract.validate(event, True) is None
    assert full == split


def test_no_envelope_field_is_both_the_clients_and_the_servers() -> None:
    # The API refuses a client's copy of a server field (REQUEST_FIELDS) by name.
    assert not set(REQUEST_FIELDS) & set(CLIENT_ENVELOPE_FIELDS)
