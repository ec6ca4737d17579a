"""`gamepipe up | down | status`: the local stack, in dependency order.

up: PostgreSQL (catalog) -> Kafka (topic) -> then Trino, the stream job and the API
start together and are each waited for. Each start waits for a real health check with
a timeout and, on failure, names the service and its log. `up` twice is harmless;
`down` stops exactly what `up` started, in reverse order, and leaves no process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gamepipe.config import Settings
from gamepipe.stack.apps import Api, Stream
from gamepipe.stack.base import Service
from gamepipe.stack.kafka import Kafka
from gamepipe.stack.postgres import Postgres
from gamepipe.stack.trino import Trino


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


def up(settings: Settings, say: Callable[[str], None] = print) -> None:
    all_services = services(settings)
    foundation = [s for s in all_services if s.name in FOUNDATION]
    rest = [s for s in all_services if s.name not in FOUNDATION]
    for svc in foundation:
        _start_and_wait([svc], say)
    _start_and_wait(rest, say)


def _start_and_wait(group: list[Service], say: Callable[[str], None]) -> None:
    started = []
    for svc in group:
        already = svc.pid()
        pid = svc.start()
        started.append(svc)
        say(f"  {svc.name:<9} {'already running' if already else 'started'} (pid {pid})")
    for svc in started:
        svc.wait_healthy()
        svc.after_start()
        say(f"  {svc.name:<9} healthy   {svc.describe()}")


def down(settings: Settings, say: Callable[[str], None] = print) -> None:
    for svc in reversed(services(settings)):
        if svc.stop():
            say(f"  {svc.name:<9} stopped")
        else:
            say(f"  {svc.name:<9} not running")


def status(settings: Settings) -> list[ServiceState]:
    states = []
    for svc in services(settings):
        pid = svc.pid()
        states.append(ServiceState(svc.name, pid, pid is not None and svc.healthy(), svc.describe(), str(svc.log_path)))
    return states


def service(settings: Settings, name: str) -> Service:
    for svc in services(settings):
        if svc.name == name:
            return svc
    known = ", ".join(s.name for s in services(settings))
    raise KeyError(f"no service {name!r}; known: {known}")
