"""Shared fixtures. Tests that need services use `stack`: the session starts the real
local stack (the same `gamepipe up` a user runs) unless it is already up, and stops it
at the end if it started it. If it cannot start, the test fails under CI=true and is
skipped with the reason elsewhere: never a silent skip in CI.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from gamepipe.config import Settings, load_settings

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# A stack the tests start runs table care only when a test asks (tests/e2e/test_maintain.py):
# a round on the stream's own timer could compact a test's files first and race its
# assertions. (A stack that was already up keeps its own schedule.)
os.environ.setdefault("GAMEPIPE_STREAM__MAINTAIN_EVERY_MINUTES", "0")


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Iterator[Settings]:
    from gamepipe.errors import GamepipeError
    from gamepipe.stack import manager

    was_up = all(s.healthy for s in manager.status(settings))
    if not was_up:
        try:
            manager.up(settings)
        except GamepipeError as exc:
            if IN_CI:
                pytest.fail(f"the stack could not start (CI=true makes this a failure): {exc}")
            pytest.skip(f"the stack could not start: {exc}")
    yield settings
    if not was_up:
        manager.down(settings)


@pytest.fixture
def unique() -> str:
    """A fresh name for a topic, table or consumer group, so tests never share one."""
    return f"t_{uuid.uuid4().hex[:12]}"
