"""Trino: the seed's Presto session (`--catalog hive --schema default`) answers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gamepipe import query
from gamepipe.config import Settings
from gamepipe.errors import QueryRefused

pytestmark = pytest.mark.stack


def test_select_one(stack: Settings) -> None:
    assert query.run(stack, "select 1 + 1").scalar() == 2


def test_catalog_hive_schema_default(stack: Settings) -> None:
    catalogs = {row[0] for row in query.run(stack, "show catalogs").rows}
    assert "hive" in catalogs
    schemas = {row[0] for row in query.run(stack, "show schemas from hive").rows}
    assert "default" in schemas


def test_the_fetched_trino_cli_runs_the_seed_session(stack: Settings) -> None:
    """The seed ran `presto --server ... --catalog hive --schema default`; `gamepipe trino`
    runs Trino's own CLI so, on the Java 25 the stack runs Trino on."""
    gamepipe = Path(sys.executable).parent / "gamepipe"
    result = subprocess.run(
        [str(gamepipe), "trino", "--execute", "show tables"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    tables = set(result.stdout.replace('"', "").split())
    assert set(stack.stream.routes.values()) <= tables


def test_a_bad_query_names_the_problem(stack: Settings) -> None:
    with pytest.raises(QueryRefused, match="no_such_table"):
        query.run(stack, "select * from no_such_table")
