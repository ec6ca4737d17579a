"""Fixtures of the fault suite."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator

import pytest

from gamepipe.config import Settings
from tests.faults.pipeline import OwnPipeline, mount_tmpfs, pipeline_env, settings_from, umount

SMALL_MB = 256


@pytest.fixture
def full_disk_pipeline(stack: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[OwnPipeline]:
    """A pipeline of its own whose warehouse is a 256 MB tmpfs under the stack's var/."""
    tag = uuid.uuid4().hex[:8]
    var = stack.var / "faults" / tag
    var.mkdir(parents=True)
    mount = var / "warehouse"
    mount_tmpfs(mount, SMALL_MB)
    env = pipeline_env(stack, var, mount, tag)
    for key, value in env.items():  # the processes it starts take their settings from here
        monkeypatch.setenv(key, value)
    pipeline = OwnPipeline(settings_from(env), mount, SMALL_MB)
    try:
        pipeline.start()
        yield pipeline
    finally:
        try:
            pipeline.remove()
        finally:
            umount(mount)
            monkeypatch.undo()
            shutil.rmtree(var, ignore_errors=True)
