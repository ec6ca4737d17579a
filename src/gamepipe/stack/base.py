"""What every service of the local stack has: a process, a log, a health check.

A service is a program of the stack's supervisord (stack/supervisor.py): started in
a process group of its own with stdout/stderr to `var/logs/<name>.log` (rotated), stopped
as a whole group (Spark's JVM under the stream's Python, the API server's workers go with
it), and restarted by supervisord when it dies. Its pid is supervisord's answer, never a
pid file's guess.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from gamepipe.config import Settings
from gamepipe.errors import ServiceFailed, StackError
from gamepipe.stack.hosts import LOCAL, Host
from gamepipe.stack.supervisor import Program, ProgramState, Supervisor

__all__ = ["Launch", "Service", "StackError", "free_port", "java_env", "stop_group", "tail"]


@dataclass(frozen=True)
class Launch:
    argv: Sequence[str]
    env: dict[str, str]
    cwd: Path


class Service:
    name: str = ""
    # Seconds to wait for the health check after starting.
    start_timeout_s: float = 60.0
    # Seconds to wait after the stop signal before SIGKILL.
    stop_timeout_s: float = 20.0
    stop_signal = "TERM"
    # Running this long counts as started for supervisord; dying sooner is retried with
    # backoff (1, 2, 3, ... s).
    startsecs = 10
    # Where it runs: this machine, or a node's own network namespace (stack/hosts.py).
    host: Host = LOCAL

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.supervisor = Supervisor(settings)

    # -- to implement ----------------------------------------------------------------
    def prepare(self) -> None:
        """Write configuration, format storage: idempotent, before each start (also
        each restart by supervisord: stack/launch.py)."""

    def launch(self) -> Launch:
        raise NotImplementedError

    def healthy(self) -> bool:
        raise NotImplementedError

    def after_start(self) -> None:
        """Provision what the service must hold (topic, database); idempotent."""

    def describe(self) -> str:
        """Where it listens, for `gamepipe status`."""
        return ""

    # -- shared ----------------------------------------------------------------------
    @property
    def log_path(self) -> Path:
        return self.settings.var / "logs" / f"{self.name}.log"

    def state(self) -> ProgramState | None:
        return self.supervisor.state(self.name)

    def pid(self) -> int | None:
        """The pid of the running service (supervisord's child), or None."""
        state = self.state()
        return state.pid if state is not None and state.state in ("STARTING", "RUNNING") else None

    def start(self) -> int | None:
        """Start the service under supervisord (if not running); does not wait."""
        running = self.pid()
        if running is not None:
            return running
        self.prepare()  # here too, so a configuration error is said at once, not in the log
        spec = self.launch()
        program = Program(
            name=self.name,
            argv=self.host.wrap(list(spec.argv)),
            env=spec.env,
            cwd=str(spec.cwd),
            settings=self.settings.model_dump(mode="json", by_alias=True),
            startsecs=self.startsecs,
            stop_signal=self.stop_signal,
            stop_wait_s=int(self.stop_timeout_s),
        )
        return self.supervisor.start(program)

    def wait_healthy(self, progress: Callable[[str], None] | None = None) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            state = self.state()
            if state is None or state.state in ("BACKOFF", "EXITED", "FATAL", "STOPPED"):
                self.supervisor.stop(self.name)  # no retrying in the background of a failed `up`
                what = state.description if state else "supervisord does not know it"
                raise ServiceFailed(
                    f"{self.name} exited while starting ({what}); see its log: {self.log_path}\n" + tail(self.log_path)
                )
            if self.healthy():
                return
            if progress:
                progress(self.name)
            time.sleep(0.5)
        raise StackError(
            f"{self.name} did not become healthy within {self.start_timeout_s:.0f}s; "
            f"see its log: {self.log_path}\n" + tail(self.log_path)
        )

    def stop(self) -> bool:
        """Stop the service's process group; True if something was running."""
        return self.supervisor.stop(self.name)


def _group_members(pgid: int) -> list[psutil.Process]:
    members = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc)
        except (ProcessLookupError, psutil.NoSuchProcess, PermissionError):
            continue
    return members


def stop_group(pgid: int, timeout_s: float) -> None:
    """SIGTERM the group, wait for every member to exit, then SIGKILL what remains (for
    a process a test started itself, outside the stack's supervisor)."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _group_members(pgid):
            return
        time.sleep(0.2)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return
    psutil.wait_procs(_group_members(pgid), timeout=5)


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no log written)"
    return "\n".join("    " + line for line in text[-lines:])


def java_env(java_home: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if java_home:
        env["JAVA_HOME"] = java_home
        env["PATH"] = f"{java_home}/bin:{env.get('PATH', '')}"
    return env


def get_json(url: str) -> Any | None:
    """A service's own account of itself over HTTP (a health page, JMX), or None if it
    does not answer, or not in JSON."""
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - our own http:// URL
            return json.load(resp)
    except (OSError, ValueError):
        return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now (for a second server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
