"""A pipeline of its own for a fault that must not touch the stack's tables: its own
stream job and API (under a supervisord of their own, in a `var/` of their own), topic,
namespace and Trino schema, and its warehouse on a small tmpfs the test can fill. Kafka,
PostgreSQL and Trino are the stack's."""

from __future__ import annotations

import errno
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gamepipe import query
from gamepipe.config import Settings, load_settings
from gamepipe.stack import restarts
from gamepipe.stack.apps import Api, Stream
from gamepipe.stack.base import free_port
from gamepipe.stack.kafka import ensure_topic


@dataclass
class OwnPipeline:
    settings: Settings
    mount: Path
    size_mb: int

    @property
    def filler(self) -> Path:
        return self.mount / "filler"

    def fill_the_disk(self) -> None:
        """Every free byte of the warehouse's filesystem taken (written until it is full:
        the stream writes meanwhile, so the free space cannot be known in advance)."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for size in (1 << 20, 1 << 12):
                block = b"\0" * size
                try:
                    while True:
                        os.write(fd, block)
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
        finally:
            os.close(fd)
        assert os.statvfs(self.mount).f_bavail * os.statvfs(self.mount).f_frsize < 1 << 12

    def free_the_disk(self) -> None:
        self.filler.unlink()

    def stream_crashes(self) -> int:
        records = restarts.read(self.settings.var / "logs" / "restarts.jsonl")
        return restarts.summary(records, "stream").crashes

    def start(self) -> None:
        ensure_topic(self.settings.kafka)
        services = [Stream(self.settings), Api(self.settings)]
        for svc in services:
            svc.start()
        for svc in services:
            svc.wait_healthy()

    def remove(self) -> None:
        Stream(self.settings).supervisor.shutdown()
        namespace = self.settings.catalog.namespace
        for table in self.settings.stream.tables:
            query.run(self.settings, f'drop table if exists "{namespace}".{table}')
        query.run(self.settings, f'drop schema if exists "{namespace}"')


def mount_tmpfs(path: Path, size_mb: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"a small filesystem for the warehouse needs `mount` (root): {done.stderr}"


def umount(path: Path) -> None:
    subprocess.run(["umount", "--lazy", str(path)], check=False)


def pipeline_env(stack: Settings, var: Path, mount: Path, tag: str) -> dict[str, str]:
    """The pipeline's settings, as its processes read them (the environment)."""
    return {
        "GAMEPIPE_VAR_DIR": str(var),
        "GAMEPIPE_KAFKA__TOPIC": f"faults-{tag}",
        "GAMEPIPE_CATALOG__NAMESPACE": f"faults_{tag}",
        "GAMEPIPE_CATALOG__WAREHOUSE": mount.as_uri(),
        "GAMEPIPE_CATALOG__PASSWORD": stack.catalog_password(),
        "GAMEPIPE_TRINO__SCHEMA": f"faults_{tag}",
        "GAMEPIPE_API__PORT": str(free_port()),
        "GAMEPIPE_STREAM__MAINTAIN_EVERY_MINUTES": "0",
    }


def settings_from(env: dict[str, str]) -> Settings:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return load_settings()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
