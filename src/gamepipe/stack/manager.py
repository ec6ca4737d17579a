"""`gamepipe up | down | status`: the local stack, in dependency order.

up: PostgreSQL (catalog) -> Kafka (topic) -> then Trino, the stream job and the API
start together and are each waited for. Each start waits for a real health check with
a timeout and, on failure, names the service and its log. Every service runs under the
stack's supervisord (stack/supervisor.py), which restarts it when it dies. `up` twice is
harmless, and `up` after a crash of supervisord first stops what it left; `down` stops
every service in reverse order, then supervisord, and leaves no process.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from gamepipe.config import Settings
from gamepipe.stack import restarts
from gamepipe.stack.apps import Api, Stream
from gamepipe.stack.base import Service
from gamepipe.stack.kafka import Kafka
from gamepipe.stack.postgres import Postgres
from gamepipe.stack.supervisor import Supervisor, stack_orphans
from gamepipe.stack.trino import Trino

log = logging.getLogger(__name__)


def services(settings: Settings) -> list[Service]:
    return [Postgres(settings), Kafka(settings), Trino(settings), Stream(settings), Api(settings)]


# Services the others need before they can start.
FOUNDATION = ("postgres", "kafka")


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
    all_services = services(settings)
    foundation = [s for s in all_services if s.name in FOUNDATION]
    rest = [s for s in all_services if s.name not in FOUNDATION]
    for svc in foundation:
        _start_and_wait([svc])
    _start_and_wait(rest)


def _start_and_wait(group: list[Service]) -> None:
    started = []
    for svc in group:
        already = svc.pid()
        pid = svc.start()
        started.append(svc)
        log.info("  %-9s %s (pid %s)", svc.name, "already running" if already else "started", pid)
    for svc in started:
        svc.wait_healthy()
        svc.after_start()
        log.info("  %-9s healthy   %s", svc.name, svc.describe())


def down(settings: Settings) -> None:
    supervisor = Supervisor(settings)
    if not supervisor.running():
        left = stack_orphans(settings.var)
        if left:  # supervisord itself was killed: its services run on without it
            supervisor.ensure()  # which stops them first
            log.info("  stopped %d process(es) left running without their supervisor", len(left))
    for svc in reversed(services(settings)):
        log.info("  %-9s %s", svc.name, "stopped" if svc.stop() else "not running")
    if supervisor.shutdown():
        log.info("  supervisord stopped")


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
