"""The report on a real load run: its headline equals the run's ground truth, no cell
errors, every chart renders; Trino and DuckDB give the same answers."""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
import pytest

from gamepipe.config import Settings
from gamepipe.load.game import run_game
from gamepipe.manifest import Manifest
from gamepipe.query import Engine, comparable
from gamepipe.report import render
from gamepipe.verify import checks

pytestmark = pytest.mark.stack

PORTABLE = [
    "headline", "events_by_type", "swords_by_type", "revenue_by_item", "guild_joins", "players_by_isp",
    "activity_by_minute", "guild_members_vs_others", "top_spenders",
]  # fmt: skip


@pytest.fixture(scope="module")
def landed_run(stack: Settings) -> Manifest:
    manifest = run_game(stack, seed=23, players=80, events=2500, concurrency=4, faults=1)
    deadline = time.monotonic() + 180
    while not all(c.ok for c in checks(stack, manifest)):
        assert time.monotonic() < deadline, "the run did not land"
        time.sleep(2)
    return manifest


def test_trino_and_duckdb_agree(stack: Settings, landed_run: Manifest) -> None:
    trino, duck = Engine(stack, "trino"), Engine(stack, "duckdb")
    for name in PORTABLE:
        a = comparable(trino.named(name, landed_run.run_id).rows)
        assert a == comparable(duck.named(name, landed_run.run_id).rows), name


@pytest.mark.parametrize("engine", ["trino", "duckdb"])
def test_report_headline_equals_ground_truth(
    stack: Settings, landed_run: Manifest, tmp_path: Path, engine: str
) -> None:
    html = render(stack, landed_run.run_id, engine, out_dir=tmp_path)
    notebook = nbformat.read(tmp_path / "report.ipynb", as_version=4)  # type: ignore[no-untyped-call]
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert not [o for c in code for o in c.outputs if o.output_type == "error"], "no cell errored"
    charts = [c for c in code if "chart" in c.metadata.get("tags", [])]
    assert charts and all(any("image/png" in o.get("data", {}) for o in c.outputs) for c in charts)
    assert html.read_text().count("data:image/png;base64") >= len(charts), "charts are inline in the HTML"

    summary = next(c for c in code if "summary" in c.metadata.get("tags", []))
    text = json.dumps([o.get("data", {}).get("text/markdown", "") for o in summary.outputs])
    truth = landed_run.truth
    assert f"{truth.events:,} events" in text
    assert f"{truth.players:,} players" in text
    assert f"${truth.revenue:,.2f}" in text
    assert f"{truth.paying_players:,} paid" in text
