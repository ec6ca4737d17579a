"""The game simulator: same seed, same plan; a population that looks like a game."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from gamepipe.load.game import make_calls
from gamepipe.manifest import Faults, Latency, Manifest, Requests, Truth
from gamepipe.simulate import plan


def test_same_seed_same_plan() -> None:
    a, b = plan(7, 200, 3000, run_id="r"), plan(7, 200, 3000, run_id="r")
    assert a.events == b.events
    assert a.truth() == b.truth()
    assert plan(8, 200, 3000, run_id="r").events != a.events


def test_exact_event_count_and_unique_ids() -> None:
    p = plan(1, 100, 1234, run_id="r")
    assert len(p.events) == 1234 == p.truth().events
    assert len({e["event_id"] for e in p.events}) == 1234


def test_spending_is_skewed_and_guilds_are_uneven() -> None:
    p = plan(3, 1000, 30000, run_id="r")
    spend: Counter[str] = Counter()
    for e in p.events:
        if "price" in e:
            spend[e["player_id"]] += e["price"]
    top_tenth = sum(v for _, v in spend.most_common(len(p.players) // 10))
    assert top_tenth > 0.5 * sum(spend.values()), "a few whales bring most revenue"
    assert p.truth().paying_players < len(p.players) / 2, "most players never pay"
    joins = sorted(p.truth().guild_joins.values(), reverse=True)
    assert joins[0] > 3 * joins[-1], "guild popularity is uneven"


def test_calls_carry_every_event_once_plus_faults(tmp_path: Path) -> None:
    p = plan(5, 50, 2000, run_id="r")
    calls = make_calls(p, tmp_path, faults=2)
    kinds = Counter(c.kind for c in calls)
    assert sum(c.events for c in calls if c.kind in ("visit", "batch")) == 2000
    assert kinds["visit"] > 0 and kinds["batch"] > 0
    assert (kinds["malformed"], kinds["oversize"], kinds["duplicates"]) == (2, 2, 1)
    assert all(c.expect == 400 for c in calls if c.kind == "malformed")
    assert all(c.expect == 413 for c in calls if c.kind == "oversize")


def test_two_runs_of_one_seed_have_different_event_ids() -> None:
    a, b = plan(7, 50, 500, run_id="run-a"), plan(7, 50, 500, run_id="run-b")
    assert not {e["event_id"] for e in a.events} & {e["event_id"] for e in b.events}
    assert [e["event_type"] for e in a.events] == [e["event_type"] for e in b.events]


def test_the_truth_of_a_batch_sent_n_times_is_n_times_its_truth() -> None:
    batch = plan(9, 20, 100, run_id="r").events
    one, three, none = Truth.of(batch, 20), Truth.of(batch, 20, copies=3), Truth.of(batch, 20, copies=0)
    assert three.events == 3 * one.events == 300
    assert {k: 3 * v for k, v in one.by_type.items()} == three.by_type
    assert three.revenue == 3 * one.revenue and three.players == one.players
    assert none.events == none.players == none.paying_players == 0 and none.population == 20


def test_a_manifest_survives_its_json_file(tmp_path: Path) -> None:
    truth = plan(3, 10, 50, run_id="r").truth()
    manifest = Manifest.of(
        run_id="r",
        scenario="game",
        seed=3,
        players=10,
        concurrency=2,
        truth=truth,
        faults=Faults(),
        requests=Requests(sent=5, by_kind={"batch": 5}, answered_as_expected=5, unexpected_by_kind={}, ok=5, non_2xx=0),
        accepted_events=50,
        elapsed_s=2.0,
        latency_ms=Latency(p50=1, p95=2, p99=3, max=4, note="ms"),
    )
    manifest.save(tmp_path / "manifest.json")
    assert '"2xx": 5' in (tmp_path / "manifest.json").read_text(), "the file keeps the key readers know"
    assert Manifest.model_validate_json((tmp_path / "manifest.json").read_text()) == manifest
    assert manifest.events_per_s == 25.0 and manifest.requests_per_s == 2.5
