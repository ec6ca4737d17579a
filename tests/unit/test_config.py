"""Settings: derived paths follow the fields they come from; the environment and
`gamepipe.toml` are read in that order; a child process gets exactly its parent's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from gamepipe.config import PROFILE_ENV, SETTINGS_FILE, load_settings
from gamepipe.tables import Role, stream_tables


@pytest.fixture(autouse=True)
def clean_slate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No GAMEPIPE_* variable of the user's, a working directory without gamepipe.toml, and
    the default profile whatever stack this checkout runs."""
    for name in os.environ:
        if name.startswith("GAMEPIPE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv(PROFILE_ENV, "single")
    monkeypatch.chdir(tmp_path)


def test_a_copy_with_another_var_dir_derives_its_own_paths(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.var.name == "var"  # derived once, as code reading it would
    other = settings.model_copy(update={"var_dir": tmp_path})
    assert other.var == tmp_path.resolve()
    assert other.warehouse == (tmp_path / "warehouse").resolve().as_uri()


def test_stream_tables_are_routes_then_all_events_then_the_rollups_then_lifetimes_then_dead_letters() -> None:
    st = load_settings().stream
    lifetimes = ["players", "sessions"]
    assert st.tables == [*st.routes.values(), "events", "player_sessions", "item_days", *lifetimes, "rejected_events"]
    off = st.model_copy(update={"rejected_table": None, "rollup_table": None})
    assert off.tables == [*st.routes.values(), "events", "item_days"], "no lifetimes without the rollup they fold"
    assert off.model_copy(update={"item_rollup_table": None}).tables == [*st.routes.values(), "events"]
    assert "sessions" not in st.model_copy(update={"session_table": None}).tables
    tables = stream_tables(st)
    roles = [t.role for t in tables]
    assert roles == [Role.ROUTED] * len(st.routes) + [
        Role.ALL_EVENTS, Role.ROLLUP, Role.ROLLUP, Role.LIFETIME, Role.LIFETIME, Role.REJECTED
    ]  # fmt: skip
    folded = [t for t in tables if t.role is Role.LIFETIME]
    assert [t.name for t in folded] == lifetimes
    for t in folded:
        assert t.folds == "player_sessions" and t.day_column is None and not t.holds("join_guild"), t.name


def test_a_batch_limit_that_is_not_positive_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAMEPIPE_STREAM__MAX_ROWS_PER_BATCH", "0")
    with pytest.raises(ValidationError, match="max_rows_per_batch"):
        load_settings()
    monkeypatch.setenv("GAMEPIPE_STREAM__MAX_ROWS_PER_BATCH", "5000")
    assert load_settings().stream.max_rows_per_batch == 5000


def test_the_environment_comes_before_the_toml_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "gamepipe.toml").write_text("[api]\nport = 7001\nworkers = 3\n")
    assert (load_settings().api.port, load_settings().api.workers) == (7001, 3)
    monkeypatch.setenv("GAMEPIPE_API__PORT", "7002")
    assert (load_settings().api.port, load_settings().api.workers) == (7002, 3)


def test_a_child_gets_exactly_the_settings_handed_down(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    parent = load_settings(var_dir=tmp_path / "var", api={"port": 7003})
    env = parent.hand_down("stream")
    assert (Path(env[SETTINGS_FILE]).stat().st_mode & 0o777) == 0o600, "it may hold the catalog's password"
    monkeypatch.setenv("GAMEPIPE_API__PORT", "9999")  # the child's own environment does not count
    monkeypatch.setenv(SETTINGS_FILE, env[SETTINGS_FILE])
    child = load_settings()
    assert child == parent and child.api.port == 7003 and child.var == (tmp_path / "var").resolve()


def test_a_section_of_the_users_file_changes_only_the_keys_it_names_in_a_profile(tmp_path: Path) -> None:
    (tmp_path / "gamepipe.toml").write_text('[kafka]\nheap = "1g"\n[catalog]\nport = 15433\n')
    cluster = load_settings(profile="cluster")
    assert cluster.kafka.heap == "1g" and cluster.catalog.port == 15433
    assert len(cluster.kafka.brokers) == 3 and cluster.kafka.replication == 3, "the profile's other keys stay"
    assert cluster.warehouse.startswith("hdfs://") and cluster.catalog.database == "gamepipe_cluster"


def test_more_copies_required_in_sync_than_kept_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAMEPIPE_KAFKA__MIN_INSYNC_REPLICAS", "2")
    with pytest.raises(ValidationError, match="min_insync_replicas"):
        load_settings()  # replication 1
    assert load_settings(profile="cluster").kafka.min_insync_replicas == 2
