"""Our own processes in the stack: the ingestion API and the streaming job.

Both run from this checkout's virtual env with `var/` as working directory; settings
reach them through the environment (GAMEPIPE_CONFIG names the toml file, if any).
Reads settings: api.*, stream.*.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from gamepipe.stack.base import Launch, Service


def app_env(settings_root: Path, var: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["GAMEPIPE_VAR_DIR"] = str(var)
    config = Path(os.environ.get("GAMEPIPE_CONFIG", settings_root / "gamepipe.toml")).resolve()
    if config.exists():
        env["GAMEPIPE_CONFIG"] = str(config)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


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
        "gamepipe.api.app:create_app",
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
        argv = server_argv(a.host, a.port, a.workers, self.settings.var)
        env = app_env(self.settings.root, self.settings.var)
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
        argv = [sys.executable, "-m", "gamepipe.stream", "--var", str(self.settings.var)]
        env = app_env(self.settings.root, self.settings.var)
        env["SPARK_LOCAL_IP"] = "127.0.0.1"
        # glibc gives each thread that allocates its own 64 MB arena, up to 8 per core; the
        # JVM's ~250 threads and RocksDB's native allocations filled 23 of them (930 MB
        # resident at rest, pmap). Two arenas hold the same allocations (docs/decisions.md).
        env["MALLOC_ARENA_MAX"] = "2"
        return Launch(argv, env, self.settings.var)

    def status(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self.status_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return data

    def healthy(self) -> bool:
        """Ready once the job has written a status listing every query as active."""
        status = self.status()
        if not status:
            return False
        return bool(status.get("ready")) and time.time() - float(str(status.get("updated", 0))) < 30

    def describe(self) -> str:
        st = self.settings.stream
        return f"trigger={st.trigger_seconds}s tables={st.tables}"
