"""The stack as containers (deploy/docker-compose.yaml) for tests/docker/: built and brought
up once, as the README's Docker section says, on a Docker engine the session starts
itself (engine.py), and removed at the end with everything it made (containers, volumes,
images, networks, the daemon and its files). Needs root (apt, dockerd); under CI=true a
stack that cannot be built or started fails the session, never skips it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gamepipe.config import Settings
from gamepipe.stack.base import free_port
from tests.conftest import IN_CI
from tests.docker.engine import BASE_IMAGE, Engine, install_packages

PROJECT = "gamepipe-test"  # not compose's default (the folder's name): a user's stack stays apart
UP_TIMEOUT_S = 600.0
CA_COPY = "test-ca.crt"
HEALTH_FORMAT = (
    '{{index .Config.Labels "com.docker.compose.service"}} '
    "{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}"
)  # in deploy/certs/: this machine's CA bundle, for the build stage only


class Compose:
    """docker-compose on deploy/docker-compose.yaml, against the tests' engine."""

    def __init__(self, engine: Engine, deploy: Path) -> None:
        self.engine = engine
        self.deploy = deploy
        self.api_port = free_port()
        self.trino_port = free_port()

    @property
    def env(self) -> dict[str, str]:
        ports = {"GAMEPIPE_API_PORT": str(self.api_port), "GAMEPIPE_TRINO_PORT": str(self.trino_port)}
        return self.engine.env | ports

    def run(self, *args: str, check: bool = True, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
        argv = ["docker-compose", "-p", PROJECT, *args]
        done = subprocess.run(argv, cwd=self.deploy, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(
                f"`{' '.join(argv)}` exited {done.returncode}:\n{done.stdout[-4000:]}{done.stderr[-4000:]}"
            )
        return done

    def exec(
        self, service: str, *argv: str, check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """`docker-compose exec SERVICE ARGV...`, as a user types it (no TTY)."""
        return self.run("exec", "-T", service, *argv, check=check, timeout=timeout)

    def container(self, service: str) -> str:
        return self.run("ps", "-q", service).stdout.strip()

    def health(self) -> dict[str, str]:
        """service -> its health ("healthy", "starting", ...; "running" without a check)."""
        out = {}
        for cid in self.run("ps", "-q").stdout.split():
            name, state = self.engine.docker("inspect", "--format", HEALTH_FORMAT, cid).stdout.split()
            out[name] = state
        return out

    def wait_healthy(self, timeout_s: float = UP_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            states = self.health()
            if states and all(s in ("healthy", "running") for s in states.values()):
                return
            if time.monotonic() > deadline:
                logs = self.run("logs", "--tail", "30", check=False).stdout
                raise AssertionError(f"not healthy after {timeout_s:.0f} s: {states}\n{logs[-6000:]}")
            time.sleep(2)


@pytest.fixture(scope="session")
def compose(settings: Settings) -> Iterator[Compose]:
    if os.geteuid() != 0:
        reason = "tests/docker/ need root (apt-get, dockerd)"
        if IN_CI:
            pytest.fail(f"{reason}; CI=true makes this a failure")
        pytest.skip(reason)
    install_packages()
    deploy = settings.root / "deploy"
    ca = Path(os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt")
    ca_copy = deploy / "certs" / CA_COPY
    reports_existed = (deploy / "reports").exists()
    engine = Engine(settings.var / "docker")
    engine.start()
    stack = Compose(engine, deploy)
    try:
        shutil.copyfile(ca, ca_copy)
        engine.build_base()
        stack.run("build")
        stack.run("up", "-d")
        stack.wait_healthy()
        yield stack
    finally:
        stack.run("down", "--volumes", "--rmi", "all", "--remove-orphans", check=False)
        engine.docker("image", "rm", BASE_IMAGE, check=False)
        engine.stop()
        ca_copy.unlink(missing_ok=True)
        if not reports_existed:
            shutil.rmtree(deploy / "reports", ignore_errors=True)
        shutil.rmtree(engine.home, ignore_errors=True)
