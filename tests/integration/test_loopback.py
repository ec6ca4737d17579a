"""Services bind to 127.0.0.1 unless configured otherwise (a guarantee of docs/architecture.md): every
listening socket of every process of the stack is on the loopback address."""

from __future__ import annotations

import ipaddress

import psutil
import pytest

from gamepipe.config import Settings
from tests.stack_helpers import stack_processes


def is_loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    # JVMs listen on IPv6 sockets; 127.0.0.1 then shows as ::ffff:127.0.0.1.
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def test_loopback_check_itself() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::ffff:127.0.0.1") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("192.0.2.2")  # noqa: S104


@pytest.mark.stack
def test_every_listening_socket_is_on_loopback(stack: Settings) -> None:
    processes = stack_processes(stack)
    assert set(processes.values()) == {"postgres", "kafka", "trino", "stream", "api"}
    listening = [
        (processes[c.pid], c.laddr.ip, c.laddr.port)
        for c in psutil.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.pid in processes
    ]
    assert {name for name, _, _ in listening} >= {"postgres", "kafka", "trino", "api"}
    exposed = [x for x in listening if not is_loopback(x[1])]
    assert not exposed, f"listening beyond loopback: {exposed}"
