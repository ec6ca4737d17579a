"""The cluster profile's hosts: each node a Linux network namespace with an address of its
own on a bridge the stack makes, on a subnet nothing else on the machine uses.

In: `cluster.*` settings (the bridge's name, this machine's address on it). Out: the
`Host` of each node (its namespace and address) and a `Network` that makes them all
(`up`, idempotent: what an earlier stack left is made again as it should be), cuts one
off or puts it back (`cut`, `mend`: its link down or up), and removes them (`down`). This
machine is the bridge's `.1`: PostgreSQL, the API and the stream's driver live there and
reach every node; the nodes reach it and each other, and nothing else. Needs root
(`ip netns`, veth, a bridge).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
from dataclasses import dataclass

from gamepipe.errors import SetupError, StackError

log = logging.getLogger(__name__)

PREFIX = "gp-"  # every namespace and link the stack makes starts so; `down` removes them by it


@dataclass(frozen=True)
class Host:
    """A node's host: a network namespace (None: this machine itself) and its address."""

    address: str
    namespace: str | None = None

    def wrap(self, argv: list[str]) -> list[str]:
        """`argv` run inside the host (`ip netns exec` execs it: the same pid)."""
        return ["ip", "netns", "exec", self.namespace, *argv] if self.namespace else argv

    @property
    def link(self) -> str:
        """This machine's end of the host's link to the bridge."""
        return f"{self.namespace}h"


LOCAL = Host("127.0.0.1")


def resolve(address: str) -> str:
    """The IPv4 address of `address` (itself if it is one): for servers that bind to an IP
    only, where the docker profile names hosts (`trino`, `api`, `datanode`)."""
    return socket.gethostbyname(address)


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise StackError(f"`ip {' '.join(args)}` failed: {done.stderr.strip()}")
    return done


def addresses(link: str, namespace: str | None = None) -> set[str]:
    """The IPv4 addresses on a link (in a namespace)."""
    where = ["-n", namespace] if namespace else []
    found = json.loads(ip(*where, "-j", "-4", "addr", "show", "dev", link).stdout or "[]")
    return {a["local"] for iface in found for a in iface.get("addr_info", [])}


class Network:
    def __init__(self, bridge: str, gateway: str, hosts: list[Host]) -> None:
        """`gateway`: this machine's address on the bridge (x.y.z.1); `hosts` the nodes'."""
        self.bridge = bridge
        self.gateway = gateway
        self.hosts = hosts

    def up(self) -> None:
        if os.geteuid() != 0:
            raise SetupError("the cluster profile makes network namespaces and a bridge", "run it as root")
        if ip("link", "show", self.bridge, check=False).returncode != 0:
            ip("link", "add", self.bridge, "type", "bridge")
        if addresses(self.bridge) != {self.gateway}:
            ip("addr", "flush", "dev", self.bridge)
            ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        existing = set(ip("netns", "list").stdout.split())
        for host in self.hosts:
            ns = str(host.namespace)
            if ns not in existing:
                ip("netns", "add", ns)
            if ip("link", "show", host.link, check=False).returncode != 0:
                ip("link", "add", host.link, "type", "veth", "peer", "name", "eth0", "netns", ns)
            ip("link", "set", host.link, "master", self.bridge, "up")
            if addresses("eth0", ns) != {host.address}:
                ip("-n", ns, "addr", "flush", "dev", "eth0")
                ip("-n", ns, "addr", "add", f"{host.address}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "link", "set", "eth0", "up")
        log.info("  network   %s %s/24, %d hosts", self.bridge, self.gateway, len(self.hosts))

    def cut(self, host: Host) -> None:
        """Take the host off the network (its link down): its processes run on, unreachable."""
        ip("link", "set", host.link, "down")

    def mend(self, host: Host) -> None:
        ip("link", "set", host.link, "up")

    def down(self) -> None:
        """Remove every namespace and link the stack made (a veth goes with its namespace)."""
        for ns in ip("netns", "list", check=False).stdout.split():
            if ns.startswith(PREFIX):
                ip("netns", "del", ns, check=False)
        ip("link", "del", self.bridge, check=False)
