"""The cluster profile survives losing a node, under steady `ab` load: after each fault the
ledger closes (every event answered 2xx once in its tables, none among the dead letters;
tests/faults/ledger.py), with no hand on the stack but the fault's own end. And the
negative case: with two brokers of three down, no event is acknowledged."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import httpx
import pytest

from gamepipe import query
from gamepipe.config import Settings, load_settings
from gamepipe.errors import QueryError
from gamepipe.stack import cluster as layout
from gamepipe.stack.base import Service
from gamepipe.stack.manager import service
from tests.faults.ledger import under_load
from tests.stack_helpers import kill_and_await_restart, wait_for

pytestmark = pytest.mark.cluster
# The matrix rows go to the results docs/benchmarks.md is made from (the default var/bench).
SINGLE = load_settings(profile="single")


def survives(cluster: Settings, name: str, seed: int, fault: Callable[[], float]) -> None:
    """The fault under load, then the ledger closed (tests/faults/ledger.py)."""
    under_load(cluster, name, seed=seed, fault=fault, results_of=SINGLE)


def kill(cluster: Settings, name: str) -> Callable[[], float]:
    """The fault: SIGKILL the node's process group; supervisord restarts it."""
    return lambda: kill_and_await_restart(service(cluster, name))


def healthy_again(svc: Service, timeout_s: float = 180) -> float:
    began = time.monotonic()
    wait_for(svc.healthy, timeout_s, f"{svc.name} healthy again", 0.5)
    return time.monotonic() - began


def test_a_broker_sigkilled_and_restarted(cluster: Settings) -> None:
    survives(cluster, "cluster: broker SIGKILL", 201, kill(cluster, "kafka-2"))


def test_a_broker_cut_off_for_30_s(cluster: Settings) -> None:
    network, host = layout.network(cluster), layout.hosts(cluster)["kafka-3"]

    def fault() -> float:
        network.cut(host)
        try:
            time.sleep(30)
        finally:
            network.mend(host)
        return healthy_again(service(cluster, "kafka-3"))

    survives(cluster, "cluster: broker link down 30 s", 202, fault)


def test_a_datanode_sigkilled(cluster: Settings) -> None:
    survives(cluster, "cluster: DataNode SIGKILL", 203, kill(cluster, "datanode-1"))


def test_a_spark_worker_sigkilled(cluster: Settings) -> None:
    survives(cluster, "cluster: Spark worker SIGKILL", 204, kill(cluster, "spark-worker-1"))


def test_a_trino_worker_sigkilled_while_the_reports_queries_run(cluster: Settings) -> None:
    answered: list[int] = []
    failed: list[str] = []
    stop = threading.Event()

    def report_queries() -> None:
        while not stop.is_set():
            for name in ("events_by_type", "revenue_by_item", "players_by_isp"):
                try:
                    answered.append(len(query.run(cluster, query.named(cluster, name, engine="trino")).rows))
                except QueryError as error:
                    failed.append(str(error))

    runner = threading.Thread(target=report_queries, daemon=True)
    runner.start()
    try:
        survives(cluster, "cluster: Trino worker SIGKILL", 205, kill(cluster, "trino-worker-1"))
    finally:
        stop.set()
        runner.join(120)
    assert answered, "the report's queries ran during the fault"
    assert not failed, f"a query failed while a worker died (retry-policy=QUERY retries it): {failed[:3]}"


def test_with_two_brokers_down_nothing_is_acknowledged(cluster: Settings) -> None:
    brokers = [service(cluster, name) for name in ("kafka-1", "kafka-2")]
    session = f"two-down-{uuid.uuid4().hex[:8]}"
    url = f"http://{cluster.api.host}:{cluster.api.port}/v1/events"
    events = [{"event_type": "join_guild", "session_id": session, "event_id": str(uuid.uuid4())} for _ in range(5)]
    for broker in brokers:
        broker.supervisor.stop(broker.name)
    try:
        for event in events:
            answer = httpx.post(url, json={"events": [event]}, timeout=60)
            assert answer.status_code == 503, f"acknowledged with one broker of three: {answer.text}"
    finally:
        for broker in brokers:
            broker.start()
        for broker in brokers:
            broker.wait_healthy()
    for event in events:  # the same ids again, as a client told 503 does: each lands once
        accepted = lambda e=event: httpx.post(url, json={"events": [e]}, timeout=60).status_code == 200  # noqa: E731
        wait_for(accepted, 120, "the retry accepted")
    sql = f"select count(*), count(distinct event_id) from events where session_id = '{session}'"
    wait_for(lambda: query.run(cluster, sql).rows[0] == (5, 5), 240, "each retried event once")
    assert query.count(cluster, "rejected_events", f"raw_event like '%{session}%'") == 0, "none among the dead letters"
