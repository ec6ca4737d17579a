"""Settings: derived paths follow the fields they come from."""

from __future__ import annotations

from pathlib import Path

from gamepipe.config import load_settings


def test_a_copy_with_another_var_dir_derives_its_own_paths(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.var.name == "var"  # derived once, as code reading it would
    other = settings.model_copy(update={"var_dir": tmp_path})
    assert other.var == tmp_path.resolve()
    assert other.warehouse == (tmp_path / "warehouse").resolve().as_uri()
