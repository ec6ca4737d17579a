"""Running SQL: errors a user can act on."""

from __future__ import annotations

import pytest

from gamepipe import query
from gamepipe.config import load_settings
from gamepipe.errors import EngineUnavailable
from gamepipe.stack.base import free_port


def test_a_query_with_trino_down_says_to_start_the_stack() -> None:
    settings = load_settings()
    down = settings.model_copy(update={"trino": settings.trino.model_copy(update={"port": free_port()})})
    with pytest.raises(EngineUnavailable, match="is the stack up"):
        query.run(down, "select 1")
