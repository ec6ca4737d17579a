"""Waiting on the real stack, and killing its services as a fault would."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import psutil

from gamepipe.config import Settings
from gamepipe.stack import manager
from gamepipe.stack.base import Service


def wait_for(predicate: Callable[[], object], timeout_s: float = 180, what: str = "", every_s: float = 2) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout_s:.0f} s waiting for {what}"
        time.sleep(every_s)


def kill_and_await_restart(service: Service, timeout_s: float = 120) -> float:
    """SIGKILL the service's whole process group (for the stream: the Python driver, Spark's
    JVM and a table-care child at once) and wait, with no hand on it, until supervisord
    has restarted it and it is healthy. Returns the seconds that took."""
    pid = service.pid()
    assert pid is not None, f"{service.name} is running"
    killed = time.monotonic()
    os.killpg(pid, signal.SIGKILL)
    wait_for(lambda: service.pid() not in (None, pid), timeout_s, f"supervisord to restart {service.name}", 0.2)
    wait_for(service.healthy, timeout_s, f"{service.name} healthy again", 0.5)
    return time.monotonic() - killed


def stack_processes(settings: Settings) -> dict[int, str]:
    """pid -> service, for every process in each service's process group."""
    groups = {s.pid: s.name for s in manager.status(settings) if s.pid}
    out = {}
    for proc in psutil.process_iter(["pid"]):
        try:
            group = os.getpgid(proc.pid)
        except (ProcessLookupError, PermissionError):
            continue
        if group in groups:
            out[proc.pid] = groups[group]
    return out
