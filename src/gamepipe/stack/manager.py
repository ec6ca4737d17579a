"""`gamepipe up | down | status`: the local stack, in dependency order.

up: PostgreSQL (catalog) -> HDFS, if the stack runs it (NameNode, then DataNodes) -> Kafka
(every broker together, then the topic) -> the Spark master, in the cluster profile ->
then the rest (Spark workers, Trino, the stream job, the API) start together and are
each waited for. Each start
waits for a real health check with a timeout and, on failure, names the service and its
log. Every service runs under the stack's supervisord (stack/supervisor.py), which
restarts it when it dies. `up` twice is harmless, and `up` after a crash of supervisord
first stops what it left; `down` stops every service in reverse order, then supervisord,
and leaves no process.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from gamepipe import hdfs
from gamepipe.config import Settings
from gamepipe.errors import ConfigError
from gamepipe.stack import cluster, containers, restarts
from gamepipe.stack.apps import Api, Stream
from gamepipe.stack.base import Service
from gamepipe.stack.hdfs import DataNode, NameNode
from gamepipe.stack.hosts import Host
from gamepipe.stack.kafka import Kafka
from gamepipe.stack.postgres import Postgres
from gamepipe.stack.spark import SparkMaster
from gamepipe.stack.supervisor import Supervisor, stack_orphans
from gamepipe.stack.trino import Trino

log = logging.getLogger(__name__)


def services(settings: Settings) -> list[Service]:
    """Every service `up` starts, in the order it starts them (`stage`)."""
    if settings.local.profile == "cluster":
        return cluster.services(settings)
    if settings.local.profile == "docker":
        return containers.services(settings)
    out: list[Service] = [Postgres(settings)]
    if settings.local.hdfs:
        count = settings.hdfs.datanodes
        host = Host(hdfs.namenode(settings.warehouse)[0])
        out += [NameNode(settings), *(DataNode(settings, i, host, count > 1) for i in range(1, count + 1))]
    return [*out, Kafka(settings), Trino(settings), Stream(settings), Api(settings)]


# What the others need, in the order it is needed; each stage started together and waited
# for before the next (the brokers together: a KRaft quorum forms only once most are up).
STAGES: tuple[type[Service], ...] = (Postgres, NameNode, DataNode, Kafka, SparkMaster)


def stage(service: Service) -> int:
    """The service's stage: its place in STAGES, or after them all."""
    return next((i for i, kind in enumerate(STAGES) if isinstance(service, kind)), len(STAGES))


@dataclass(frozen=True)
class ServiceState:
    name: str
    pid: int | None
    healthy: bool
    where: str
    log: str
    state: str  # supervisord's: RUNNING, STARTING, BACKOFF, FATAL, STOPPED, ... ("DOWN": no supervisord)
    since: float | None  # when the current process started
    restarts: restarts.Restarts


def up(settings: Settings) -> None:
    if settings.local.profile == "docker":
        raise ConfigError(
            "the docker profile's services are containers, not processes of this machine",
            "start them with `docker-compose up -d` in deploy/ (README, Docker)",
        )
    if settings.local.profile == "cluster":
        cluster.network(settings).up()
    elif len(settings.kafka.brokers) > 1:
        raise ConfigError(
            f"kafka.bootstrap names {len(settings.kafka.brokers)} brokers; the single profile runs one",
            "`gamepipe up --profile cluster` runs one per entry",
        )
    all_services = services(settings)
    for n in sorted({stage(s) for s in all_services}):
        _start_and_wait([s for s in all_services if stage(s) == n])


def _start_and_wait(group: list[Service]) -> None:
    started = []
    for svc in group:
        already = svc.pid()
        pid = svc.start()
        started.append(svc)
        log.info("  %-14s %s (pid %s)", svc.name, "already running" if already else "started", pid)
    for svc in started:
        svc.wait_healthy()
        svc.after_start()
        log.info("  %-14s healthy   %s", svc.name, svc.describe())


def down(settings: Settings) -> None:
    supervisor = Supervisor(settings)
    if not supervisor.running():
        left = stack_orphans(settings.var)
        if left:  # supervisord itself was killed: its services run on without it
            supervisor.ensure()  # which stops them first
            log.info("  stopped %d process(es) left running without their supervisor", len(left))
    for svc in reversed(services(settings)):
        log.info("  %-14s %s", svc.name, "stopped" if svc.stop() else "not running")
    if supervisor.shutdown():
        log.info("  supervisord stopped")
    if settings.local.profile == "cluster":
        cluster.network(settings).down()
        log.info("  network   %s and its hosts removed", settings.cluster.bridge)


def status(settings: Settings) -> list[ServiceState]:
    records = restarts.read(settings.var / "logs" / "restarts.jsonl")
    states = []
    for svc in services(settings):
        state = svc.state()
        pid = svc.pid()
        healthy = pid is not None and svc.healthy()
        states.append(
            ServiceState(
                svc.name,
                pid,
                healthy,
                svc.describe(),
                str(svc.log_path),
                state.state if state else "DOWN",
                state.started if state else None,
                restarts.summary(records, svc.name),
            )
        )
    return states


def service(settings: Settings, name: str) -> Service:
    for svc in services(settings):
        if svc.name == name:
            return svc
    known = ", ".join(s.name for s in services(settings))
    raise KeyError(f"no service {name!r}; known: {known}")
