"""A Docker engine of the tests' own, for tests/docker/: Debian's packages, a daemon on a
socket and directories of ours, and the Debian base image built here.

No image registry is reachable from these machines, and none may be used: the base image
`debian:bookworm-slim` is made with debootstrap from Debian's mirror and imported under the
name a user's machine would pull. The daemon (`Engine`) keeps everything under
`<var>/docker` (its socket, data, log) and `/run/gamepipe-docker` (its state), makes no
default bridge, touches no iptables, and gives the networks compose makes addresses on
10.214.0.0/16, which nothing else on the machine uses; `stop` ends it and its containerd.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

PACKAGES = {
    "docker.io": "/usr/sbin/dockerd",
    "docker-compose": "/usr/bin/docker-compose",
    "debootstrap": "/usr/sbin/debootstrap",
}
# Debian's client, the daemon's own version: another `docker` on PATH (a newer client
# without BuildKit's buildx) may come first.
DOCKER = "/usr/bin/docker"
BASE_IMAGE = "debian:bookworm-slim"
MIRROR = "http://deb.debian.org/debian"
ADDRESS_POOL = "10.214.0.0/16"
EXEC_ROOT = Path("/run/gamepipe-docker")


def missing_packages() -> list[str]:
    return [name for name, path in PACKAGES.items() if not Path(path).exists()]


def install_packages() -> None:
    """Debian's docker.io, docker-compose and debootstrap, where missing (needs root)."""
    missing = missing_packages()
    if not missing:
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env, check=True)


class Engine:
    """dockerd, started and stopped by the tests."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.socket = home / "docker.sock"
        self.log = home / "dockerd.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        """The environment for `docker` and `docker-compose` to use this daemon."""
        path = f"{Path(DOCKER).parent}:{os.environ.get('PATH', '')}"
        return dict(os.environ, DOCKER_HOST=f"unix://{self.socket}", PATH=path)

    def docker(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DOCKER, *args], env=self.env, capture_output=True, text=True, check=check, timeout=timeout
        )

    def start(self, timeout_s: float = 60) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        argv = [
            "/usr/sbin/dockerd",
            f"--data-root={self.home / 'data'}",
            f"--exec-root={EXEC_ROOT}",
            f"--pidfile={EXEC_ROOT / 'dockerd.pid'}",
            f"--host=unix://{self.socket}",
            "--bridge=none",
            "--iptables=false",
            f"--default-address-pool=base={ADDRESS_POOL},size=24",
            # Namespaces of its own on a containerd it did not start (a machine's own dockerd's).
            "--containerd-namespace=gamepipe-test",
            "--containerd-plugins-namespace=gamepipe-test-plugins",
            "--log-level=warn",
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while self.docker("version", check=False).returncode != 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dockerd did not start; its log:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.5)

    def stop(self, timeout_s: float = 60) -> None:
        """End the daemon (it stops its containers and its containerd first)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        for mount in reversed(mounts_under(EXEC_ROOT)):  # the daemon leaves netns/default bound
            subprocess.run(["umount", mount], check=False)
        shutil.rmtree(EXEC_ROOT, ignore_errors=True)

    def has_image(self, name: str) -> bool:
        return self.docker("image", "inspect", name, check=False).returncode == 0

    def build_base(self) -> None:
        """`debian:bookworm-slim` from Debian's mirror: debootstrap's minimal system, imported."""
        if self.has_image(BASE_IMAGE):
            return
        rootfs = self.home / "rootfs"
        shutil.rmtree(rootfs, ignore_errors=True)
        subprocess.run(
            ["/usr/sbin/debootstrap", "--variant=minbase", "bookworm", str(rootfs), MIRROR],
            capture_output=True,
            check=True,
        )
        with subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE) as tar:
            imported = subprocess.run([DOCKER, "import", "-", BASE_IMAGE], stdin=tar.stdout, env=self.env, check=False)
        if imported.returncode != 0 or tar.returncode != 0:
            raise RuntimeError(
                f"importing {rootfs} as {BASE_IMAGE} failed (tar {tar.returncode}, docker {imported.returncode})"
            )
        shutil.rmtree(rootfs)


def mounts_under(directory: Path) -> list[str]:
    """Mount points at or under `directory`, in the order they were mounted."""
    points = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    return [p for p in points if p == str(directory) or p.startswith(f"{directory}/")]
