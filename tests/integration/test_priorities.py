"""The stack's CPU priorities (docs/decisions.md): the stream runs below the API, so when
the cores are short accepting events comes first; table care runs below everything."""

from __future__ import annotations

import psutil
import pytest

from gamepipe.config import Settings
from gamepipe.stream.maintain import CARE_NICE
from tests.stack_helpers import stack_processes

pytestmark = pytest.mark.stack


def niceness(settings: Settings) -> dict[str, set[int]]:
    """Service -> the nice values of its live processes (every thread of each)."""
    out: dict[str, set[int]] = {}
    for pid, service in stack_processes(settings).items():
        try:
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            threads = [psutil.Process(t.id) for t in proc.threads()]
            out.setdefault(service, set()).update(t.nice() for t in threads)
        except psutil.NoSuchProcess:
            continue
    return out


def test_the_stream_yields_the_cpu_to_the_api(stack: Settings) -> None:
    nice = niceness(stack)
    assert stack.stream.nice > 0
    assert nice["api"] == {0} and nice["kafka"] == {0}
    # Table care, the stream's child, runs at CARE_NICE (19) when a round is on.
    assert stack.stream.nice in nice["stream"] and nice["stream"] <= {stack.stream.nice, CARE_NICE}
