"""Services bind to 127.0.0.1 unless configured otherwise (DESIGN.md section 4): every
listening socket of every process of the stack is on the loopback address."""

from __future__ import annotations

import ipaddress
import os

import psutil
import pytest

from gamepipe.config import Settings
from gamepipe.stack import manager

pytestmark = pytest.mark.stack


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


def test_every_listening_socket_is_on_loopback(stack: Settings) -> None:
    processes = stack_processes(stack)
    assert set(processes.values()) == {"postgres", "kafka", "trino", "stream", "api"}
    listening = [
        (processes[c.pid], c.laddr.ip, c.laddr.port)
        for c in psutil.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.pid in processes
    ]
    assert {name for name, _, _ in listening} >= {"postgres", "kafka", "trino", "api"}
    exposed = [x for x in listening if not ipaddress.ip_address(x[1]).is_loopback]
    assert not exposed, f"listening beyond loopback: {exposed}"
