"""The Iceberg JDBC catalog in PostgreSQL: what the stream writes, Trino reads."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest

from gamepipe.config import Settings

pytestmark = pytest.mark.stack


def psql(settings: Settings, sql: str) -> list[list[str]]:
    c = settings.catalog
    result = subprocess.run(
        ["psql", "-h", c.host, "-p", str(c.port), "-U", c.user, "-d", c.database, "-tAF", "|", "-c", sql],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, PGPASSWORD=settings.catalog_password()),
    )
    return [line.split("|") for line in result.stdout.splitlines() if line]


def test_routed_tables_are_registered_with_live_metadata(stack: Settings) -> None:
    rows = psql(
        stack,
        "select table_name, metadata_location from iceberg_tables "
        f"where catalog_name = '{stack.catalog.name}' and table_namespace = '{stack.catalog.namespace}'",
    )
    registered = {name: location for name, location in rows}
    for table in stack.stream.routes.values():
        assert table in registered, f"{table} not in the catalog: {sorted(registered)}"
        metadata = Path(urlparse(registered[table]).path)
        assert metadata.exists(), f"catalog points at a missing file: {metadata}"


def test_catalog_listens_on_loopback_only(stack: Settings) -> None:
    rows = psql(stack, "show listen_addresses")
    assert rows == [[stack.catalog.host]]
