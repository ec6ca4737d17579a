"""The cluster profile's stack (`gamepipe up --profile cluster`) for the tests of
tests/cluster/: started once, with the same `up` a user runs, and stopped at the end,
namespaces and bridge removed. Run on their own (`make test` runs them after the rest,
with the single stack stopped): the two stacks would share the machine's two cores."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from gamepipe.config import Settings, forget_profile, load_settings, record_profile
from gamepipe.errors import GamepipeError

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def cluster() -> Iterator[Settings]:
    """The cluster, recorded as the stack that runs (so `gamepipe down` stops it if the
    session is cut short). A single stack left up is stopped first and started again after."""
    from gamepipe.stack import manager
    from gamepipe.stack.supervisor import Supervisor

    single = load_settings(profile="single")
    single_was_up = Supervisor(single).running()
    if single_was_up:
        manager.down(single)
    settings = load_settings(profile="cluster")
    record_profile("cluster")
    try:
        manager.up(settings)
    except GamepipeError as exc:
        manager.down(settings)
        forget_profile()
        if IN_CI:
            pytest.fail(f"the cluster could not start (CI=true makes this a failure): {exc}")
        pytest.skip(f"the cluster could not start: {exc}")
    yield settings
    manager.down(settings)
    forget_profile()
    if single_was_up:
        record_profile("single")
        manager.up(single)
