"""The docker profile: each service of the stack the main process of a container of its own
(deploy/docker-compose.yaml), where Docker does what supervisord does for `gamepipe up`.

In: settings (`local.profile = "docker"`: every address a compose service name). Out:
`services(settings)`, and the two commands each container runs:

- `gamepipe serve NAME` (`serve`): the service's `prepare`, then its process as a child
  whose output is the container's log; once its health check passes, its `after_start`
  (the topic, the catalog database, HDFS out of safe mode), then a ready mark. The
  container's stop signal is passed on as the service's own (PostgreSQL: SIGINT, its fast
  shutdown), and the container exits with the service's code; the compose file's restart
  policy starts it again. A service that is not healthy within its start timeout, or
  whose provisioning fails, is stopped and the container exits 1 (and is restarted).
- `gamepipe health NAME` (`healthy`): the compose health check: the ready mark and the
  service's own health check now.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from pathlib import Path
from types import FrameType

from gamepipe import hdfs
from gamepipe.config import Settings
from gamepipe.errors import GamepipeError, StackError
from gamepipe.stack.apps import Api, Stream
from gamepipe.stack.base import Service
from gamepipe.stack.hdfs import DataNode, NameNode
from gamepipe.stack.hosts import Host
from gamepipe.stack.kafka import Kafka
from gamepipe.stack.postgres import Postgres
from gamepipe.stack.trino import Trino

log = logging.getLogger(__name__)


def services(settings: Settings) -> list[Service]:
    """One per container, named as the compose file's services are."""
    namenode = NameNode(settings, Host(hdfs.namenode(settings.warehouse)[0]))
    datanode = DataNode(settings, 1, Host(settings.cluster.datanodes[0]), False)
    datanode.name = "datanode"  # one DataNode: the compose service's name, not `datanode-1`
    return [Postgres(settings), namenode, datanode, Kafka(settings), Trino(settings), Stream(settings), Api(settings)]


def ready_mark(service: Service) -> Path:
    return service.settings.var / "run" / f"{service.name}.ready"


def serve(service: Service) -> int:
    """Run `service` as this container's main process; its exit code."""
    mark = ready_mark(service)
    mark.unlink(missing_ok=True)
    service.prepare()
    spec = service.launch()
    log.info("starting %s: %s", service.name, " ".join(spec.argv))
    child = subprocess.Popen(list(spec.argv), env=spec.env, cwd=spec.cwd)
    stop_signal = signal.Signals[f"SIG{service.stop_signal}"]

    def pass_on(signum: int, frame: FrameType | None) -> None:
        child.send_signal(stop_signal)

    signal.signal(signal.SIGTERM, pass_on)
    signal.signal(signal.SIGINT, pass_on)
    try:
        _until_ready(service, child)
    except GamepipeError as exc:
        log.error("%s: %s; stopping it (Docker's restart policy starts it again)", service.name, exc)
        child.send_signal(stop_signal)
        _wait(child, service.stop_timeout_s)
        return 1
    if child.poll() is None:
        mark.parent.mkdir(parents=True, exist_ok=True)
        mark.touch()
        log.info("%s healthy: %s", service.name, service.describe())
    code = child.wait()
    mark.unlink(missing_ok=True)
    return code


def _until_ready(service: Service, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + service.start_timeout_s
    while child.poll() is None:
        if service.healthy():
            service.after_start()
            return
        if time.monotonic() > deadline:
            raise StackError(f"not healthy within {service.start_timeout_s:.0f} s")
        time.sleep(0.5)


def _wait(child: subprocess.Popen[bytes], timeout_s: float) -> None:
    try:
        child.wait(timeout_s)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def healthy(service: Service) -> bool:
    return ready_mark(service).exists() and service.healthy()
