"""What every service of the local stack has: a process, a pid file, a log, a health check.

A service is started in its own session (process group) with stdout/stderr to
`var/logs/<name>.log` and its pid in `var/run/<name>.pid`; stopping it signals the whole
group, so child processes (Spark's JVM under the stream's Python, the API server's workers)
go with it. A pid file is trusted only while that pid is alive *and* its command line
still names our checkout, so a recycled pid is never signalled.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from gamepipe.config import Settings

# Processes this Python process started, kept so they are reaped (no zombies, no
# ResourceWarning) when a long-lived caller, such as the test session, stops them.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class StackError(RuntimeError):
    """A service could not be started or stopped; the message says which and where to look."""


@dataclass(frozen=True)
class Launch:
    argv: Sequence[str]
    env: dict[str, str]
    cwd: Path


class Service:
    name: str = ""
    # Seconds to wait for the health check after starting.
    start_timeout_s: float = 60.0
    # Seconds to wait after SIGTERM before SIGKILL.
    stop_timeout_s: float = 20.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # -- to implement ----------------------------------------------------------------
    def prepare(self) -> None:
        """Write configuration, format storage: idempotent, before each start."""

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

    @property
    def pid_path(self) -> Path:
        return self.settings.var / "run" / f"{self.name}.pid"

    def pid(self) -> int | None:
        """The live pid of this service, or None (a stale pid file is removed)."""
        try:
            pid = int(self.pid_path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if _is_ours(pid, str(self.settings.var)):
            return pid
        self.pid_path.unlink(missing_ok=True)
        return None

    def start(self) -> int:
        """Start the process (if not running) and return its pid; does not wait."""
        running = self.pid()
        if running is not None:
            return running
        self.prepare()
        spec = self.launch()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.pid_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== gamepipe: starting {self.name} at {time.strftime('%F %T')} ===\n".encode())
            log.flush()
            proc = subprocess.Popen(
                list(spec.argv),
                cwd=spec.cwd,
                env=spec.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _CHILDREN[proc.pid] = proc
        self.pid_path.write_text(f"{proc.pid}\n")
        return proc.pid

    def wait_healthy(self, progress: Callable[[str], None] | None = None) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.pid() is None:
                raise StackError(
                    f"{self.name} exited while starting; see its log: {self.log_path}\n" + tail(self.log_path)
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
        """Stop the process group; True if something was running."""
        pid = self.pid()
        if pid is None:
            return False
        stop_group(pid, self.stop_timeout_s)
        child = _CHILDREN.pop(pid, None)
        if child is not None:
            child.wait(timeout=5)
        self.pid_path.unlink(missing_ok=True)
        return True


def _is_ours(pid: int, marker: str) -> bool:
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        cmdline = " ".join(proc.cmdline())
        environ_cwd = proc.cwd()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return marker in cmdline or environ_cwd.startswith(marker)


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
    """SIGTERM the group, wait for every member to exit, then SIGKILL what remains."""
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


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now (for a second server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
