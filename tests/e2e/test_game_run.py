"""A `game` load run end to end: ab -> API -> Kafka -> Spark -> Iceberg, then `verify`
reconciles the manifest with the tables, and catches a row that goes missing."""

from __future__ import annotations

import time

import pytest

from gamepipe import query
from gamepipe.config import Settings
from gamepipe.load.game import run_game
from gamepipe.verify import checks

pytestmark = pytest.mark.stack


def test_game_run_verifies_then_a_deleted_row_is_named(stack: Settings) -> None:
    manifest = run_game(stack, seed=11, players=60, events=3000, concurrency=4, faults=2)
    assert manifest.requests.answered_as_expected == manifest.requests.sent

    deadline = time.monotonic() + 180
    while True:
        results = checks(stack, manifest)
        if all(c.ok for c in results):
            break
        assert time.monotonic() < deadline, [c for c in results if not c.ok]
        time.sleep(2)

    run = manifest.run_id
    [(event_id,)] = query.run(
        stack, f"select event_id from sword_purchases where session_id like '{run}-%' limit 1"
    ).rows
    query.run(stack, f"delete from sword_purchases where event_id = '{event_id}'")
    failed = [c for c in checks(stack, manifest) if not c.ok]
    names = [c.what for c in failed]
    assert "sword_purchases: rows" in names
    rows = next(c for c in failed if c.what == "sword_purchases: rows")
    assert rows.expected - rows.found == 1
