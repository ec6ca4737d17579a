"""The live tables have exactly the columns the contract derives: a field added to
schemas/ but not to the tables (or the other way round) fails here."""

from __future__ import annotations

import pytest

from gamepipe import query
from gamepipe.config import Settings
from gamepipe.events import load_contract

pytestmark = pytest.mark.stack

TRINO_TYPES = {
    "string": "varchar",
    "long": "bigint",
    "double": "double",
    "boolean": "boolean",
    "timestamp": "timestamp(6) with time zone",
}


def trino_type(logical: str) -> str:
    return logical if logical.startswith("decimal(") else TRINO_TYPES[logical]


def test_tables_match_the_contract(stack: Settings) -> None:
    contract = load_contract(stack.schemas_dir)
    for event_type, table in stack.stream.routes.items():
        described = [(row[0], row[1]) for row in query.run(stack, f"describe {table}").rows]
        expected = [(name, trino_type(kind)) for name, kind in contract.table_columns(event_type)]
        assert described == expected, f"{table} has drifted from schemas/"
