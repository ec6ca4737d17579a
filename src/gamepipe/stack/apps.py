"""Our own processes in the stack: the ingestion API and the streaming job.

Both run from this checkout's virtual env with `var/` as working directory, with exactly
the settings the stack was started with (`Settings.hand_down`).
Reads settings: api.*, stream.*.
"""

from __future__ import annotations

import os
import shutil
import sys
import urllib.request
from pathlib import Path

import psutil

from gamepipe.config import Settings
from gamepipe.stack.base import Launch, Service
from gamepipe.stack.hosts import resolve
from gamepipe.stream.status import StreamStatus


def app_env(settings: Settings, name: str) -> dict[str, str]:
    """The environment of a service of ours: this one's, and exactly the stack's settings."""
    return {**os.environ, **settings.hand_down(name), "PYTHONUNBUFFERED": "1"}


def server_argv(host: str, port: int, workers: int, working_dir: Path) -> list[str]:
    """How the API is served, in one place: the stack, the benchmark and the tests."""
    return [
        sys.executable, "-m", "granian", "--interface", "asgi", "--factory",
        "--host", host, "--port", str(port), "--workers", str(workers),
        "--loop", "uvloop", "--no-ws", "--log-level", "warning",
        # Requests in flight get this long to finish after SIGTERM.
        "--workers-kill-timeout", "20",
        # A worker that dies (a crash, a kill) is replaced by granian's own process; the
        # process itself is supervisord's to restart.
        "--respawn-failed-workers", "--respawn-interval", "1",
        "--working-dir", str(working_dir),
        "gamepipe.api.app:serve",
    ]  # fmt: skip


class Api(Service):
    name = "api"
    start_timeout_s = 30.0
    startsecs = 5

    @property
    def metrics_dir(self) -> Path:
        return self.settings.var / "api" / "metrics"

    def prepare(self) -> None:
        # Prometheus' multiprocess files describe one server run: start from empty.
        shutil.rmtree(self.metrics_dir, ignore_errors=True)
        self.metrics_dir.mkdir(parents=True)

    def launch(self) -> Launch:
        a = self.settings.api
        argv = server_argv(resolve(a.host), a.port, a.workers, self.settings.var)
        env = app_env(self.settings, self.name)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(self.metrics_dir)
        return Launch(argv, env, self.settings.var)

    def healthy(self) -> bool:
        a = self.settings.api
        try:
            with urllib.request.urlopen(f"http://{a.host}:{a.port}/readyz", timeout=2) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def describe(self) -> str:
        a = self.settings.api
        return f"http://{a.host}:{a.port} workers={a.workers}"


class Stream(Service):
    name = "stream"
    start_timeout_s = 120.0
    stop_timeout_s = 30.0
    startsecs = 30  # its Spark session and tables take ~15 s; a job failing at start is retried with backoff

    @property
    def status_path(self) -> Path:
        return self.settings.stream_dir / "status.json"

    def prepare(self) -> None:
        self.status_path.unlink(missing_ok=True)

    def launch(self) -> Launch:
        niced = ["nice", "-n", str(self.settings.stream.nice)] if self.settings.stream.nice else []
        argv = [*niced, sys.executable, "-m", "gamepipe.stream", "--var", str(self.settings.var)]
        env = app_env(self.settings, self.name)
        env["SPARK_LOCAL_IP"] = self.settings.stream.driver_host
        # glibc gives each allocating thread a 64 MB arena of its own, up to 8 per core: 23
        # of them, 930 MB resident at rest, were measured; two hold the same (docs/decisions.md).
        env["MALLOC_ARENA_MAX"] = "2"
        return Launch(argv, env, self.settings.var)

    def status(self) -> StreamStatus | None:
        return StreamStatus.read(self.status_path)

    def healthy(self) -> bool:
        """Ready once the job says its query is active, in a status written < 30 s ago by
        a job that still runs: one killed a moment ago leaves its last status behind until
        the job started in its place removes it."""
        status = self.status()
        return status is not None and status.ready and status.age_s() < 30 and _running(status.pid)

    def describe(self) -> str:
        st = self.settings.stream
        return f"trigger={st.trigger_seconds}s tables={st.tables}"


def _running(pid: int) -> bool:
    """A process with this pid runs (a zombie has died: its parent has not yet reaped it)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
