"""Settings: derived paths follow the fields they come from."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gamepipe.config import load_settings


def test_a_copy_with_another_var_dir_derives_its_own_paths(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.var.name == "var"  # derived once, as code reading it would
    other = settings.model_copy(update={"var_dir": tmp_path})
    assert other.var == tmp_path.resolve()
    assert other.warehouse == (tmp_path / "warehouse").resolve().as_uri()


def test_stream_tables_are_routes_then_all_events_then_dead_letters() -> None:
    st = load_settings().stream
    assert st.tables == [*st.routes.values(), "events", "rejected_events"]
    assert st.model_copy(update={"rejected_table": None}).tables == [*st.routes.values(), "events"]


def test_a_batch_limit_that_is_not_positive_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAMEPIPE_STREAM__MAX_ROWS_PER_BATCH", "0")
    with pytest.raises(ValidationError, match="max_rows_per_batch"):
        load_settings()
    monkeypatch.setenv("GAMEPIPE_STREAM__MAX_ROWS_PER_BATCH", "5000")
    assert load_settings().stream.max_rows_per_batch == 5000
