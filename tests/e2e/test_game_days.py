"""Game days through the whole pipeline: a run with the planted effects and one with none,
sent with `ab`, landed, then every game-day query returns the ground truth (kpis.py) on
Trino and on DuckDB, and the report leads with what to do and how sure it is: the planted
run's effects found, the other's said to have no evidence."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import nbformat
import pytest

from gamepipe import kpis
from gamepipe.config import Settings
from gamepipe.load.game import run_game
from gamepipe.manifest import Manifest
from gamepipe.query import ENGINES, Engine
from gamepipe.report import render
from gamepipe.simulate import NO_EFFECT, PLANTED, Plan, plan
from gamepipe.verify import checks

pytestmark = pytest.mark.stack
# Enough players for both planted effects to stand out (tests/unit/test_game_days.py).
SEED, PLAYERS, EVENTS = 3, 2000, 80_000


@pytest.fixture(scope="module", params=[True, False], ids=["planted", "no effect"])
def landed(stack: Settings, request: pytest.FixtureRequest) -> Iterator[tuple[Manifest, Plan]]:
    planted: bool = request.param
    manifest = run_game(stack, SEED, PLAYERS, EVENTS, concurrency=4, faults=0, effects=planted)
    deadline = time.monotonic() + 300
    while not all(c.ok for c in checks(stack, manifest)):
        assert time.monotonic() < deadline, "the run did not land"
        time.sleep(2)
    assert manifest.game is not None
    # The same plan again, from its arguments: the ground truth of what was sent.
    the_plan = plan(SEED, PLAYERS, EVENTS, run_id=manifest.run_id, start=manifest.game.start,
                    effects=PLANTED if planted else NO_EFFECT)  # fmt: skip
    assert the_plan.truth() == manifest.truth
    yield manifest, the_plan


@pytest.mark.parametrize("engine", ENGINES)
def test_every_game_day_query_returns_the_ground_truth(
    stack: Settings, landed: tuple[Manifest, Plan], engine: str
) -> None:
    manifest, the_plan = landed
    run = Engine(stack, engine)

    def rows(name: str, **days: date) -> list[tuple[object, ...]]:
        return [tuple(r) for r in run.named(name, manifest.run_id, days).rows]

    assert rows("days") == kpis.days(the_plan.events)
    assert rows("retention") == kpis.retention(the_plan.events)
    assert rows("funnel") == [kpis.funnel(the_plan.events)]
    assert rows("revenue_by_day") == kpis.revenue_by_day(the_plan.events)
    assert rows("session_lengths") == kpis.session_lengths(the_plan.events)
    assert rows("first_purchase") == kpis.first_purchase(the_plan.events)
    assert rows("guild_retention") == kpis.guild_retention(the_plan.events)
    game = manifest.game
    assert game is not None and game.price_day is not None
    change = game.start.date() + timedelta(days=game.price_day)
    assert rows("sword_rates", change_day=change) == kpis.sword_rates(the_plan.events, change)
    assert rows("players") == kpis.players(the_plan.events)


def test_the_report_leads_with_what_to_do_and_how_sure(
    stack: Settings, landed: tuple[Manifest, Plan], tmp_path: Path
) -> None:
    manifest, the_plan = landed
    planted = the_plan.effects == PLANTED
    render(stack, manifest.run_id, "trino" if planted else "duckdb", out_dir=tmp_path)
    notebook = nbformat.read(tmp_path / "report.ipynb", as_version=4)  # type: ignore[no-untyped-call]
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert not [o for c in code for o in c.outputs if o.output_type == "error"], "no cell errored"
    summary = next(c for c in code if "summary" in c.metadata.get("tags", []))
    text = json.dumps([o.get("data", {}).get("text/markdown", "") for o in summary.outputs])
    if planted:
        assert "Bring new players into a guild in their first session" in text
        assert "Revisit the sword price change" in text
        assert "no evidence" not in text
    else:
        assert "Guilds: the data cannot tell yet" in text
        assert "did not measurably change sales" in text
        assert text.count("no evidence") == 2
