"""Where the catalog database may live: the postgres user must be able to enter it."""

from __future__ import annotations

from pathlib import Path

from gamepipe.stack.postgres import closed_to_others


def test_a_directory_closed_to_others_is_named(tmp_path: Path) -> None:
    closed = tmp_path / "home"
    (closed / "gamepipe" / "var").mkdir(parents=True)
    closed.chmod(0o700)
    assert closed in closed_to_others(closed / "gamepipe" / "var")
    closed.chmod(0o755)
    assert closed not in closed_to_others(closed / "gamepipe" / "var")
