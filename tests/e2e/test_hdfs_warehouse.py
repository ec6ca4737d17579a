"""The warehouse, the checkpoint and the dedup window on HDFS (`gamepipe up --warehouse
hdfs`): a NameNode and a DataNode the stack's own services start, a stream job and an API
of their own writing there, read back by Trino and by DuckDB (hdfs-native, no JVM), and
exactly once through a SIGKILL of the job. Kafka, PostgreSQL and Trino are the stack's."""

from __future__ import annotations

import shutil
import uuid
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from gamepipe import query
from gamepipe.config import Settings
from gamepipe.query import Engine
from gamepipe.stack.apps import Api, Stream
from gamepipe.stack.base import Service, free_port
from gamepipe.stack.hdfs import DataNode, NameNode
from gamepipe.stack.hosts import LOCAL
from gamepipe.stack.kafka import ensure_topic
from gamepipe.storage import directory
from tests.stack_helpers import kill_and_await_restart, wait_for

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def on_hdfs(stack: Settings) -> Iterator[Settings]:
    """Settings of a pipeline of its own on HDFS, its services started."""
    tag = uuid.uuid4().hex[:8]
    var = stack.var / "tests" / f"hdfs-{tag}"
    var.mkdir(parents=True)
    namenode = f"hdfs://127.0.0.1:{free_port()}"
    settings = stack.model_copy(
        update={
            "var_dir": var,
            "kafka": stack.kafka.model_copy(update={"topic": f"hdfs-{tag}"}),
            "catalog": stack.catalog.model_copy(
                update={
                    "namespace": f"hdfs_{tag}",
                    "warehouse": f"{namenode}/warehouse",
                    "password": stack.catalog_password(),
                }
            ),
            "trino": stack.trino.model_copy(update={"schema_": f"hdfs_{tag}"}),
            "api": stack.api.model_copy(update={"port": free_port(), "workers": 1}),
            "stream": stack.stream.model_copy(
                update={"checkpoint_dir": f"{namenode}/stream", "maintain_every_minutes": 0}
            ),
            "hdfs": stack.hdfs.model_copy(
                update={
                    "http_port": free_port(),
                    "datanode_port": free_port(),
                    "datanode_http_port": free_port(),
                    "datanode_ipc_port": free_port(),
                }
            ),
            "local": stack.local.model_copy(update={"hdfs": True}),
        }
    )
    ensure_topic(settings.kafka)
    services: list[Service] = [NameNode(settings), DataNode(settings, 1, LOCAL, False)]
    try:
        for svc in services:  # in order, as `gamepipe up` does
            svc.start()
            svc.wait_healthy()
            svc.after_start()
        apps: list[Service] = [Stream(settings), Api(settings)]
        for svc in apps:
            svc.start()
        for svc in apps:
            svc.wait_healthy()
        yield settings
    finally:
        try:  # while HDFS runs: Trino deletes the tables' files too
            for table in settings.stream.tables:
                query.run(settings, f'drop table if exists "{settings.catalog.namespace}".{table}')
            query.run(settings, f'drop schema if exists "{settings.catalog.namespace}"')
        finally:
            Stream(settings).supervisor.shutdown()
            shutil.rmtree(var, ignore_errors=True)


def post(settings: Settings, events: list[dict[str, object]]) -> httpx.Response:
    return httpx.post(f"http://{settings.api.host}:{settings.api.port}/v1/events", json={"events": events}, timeout=30)


def ids(settings: Settings, table: str, session: str) -> Counter[str]:
    rows = query.run(settings, f"select event_id from {table} where session_id = '{session}'").rows
    return Counter(str(r[0]) for r in rows)


def test_events_land_on_hdfs_and_both_engines_read_them(on_hdfs: Settings) -> None:
    session = f"hdfs-{uuid.uuid4().hex[:8]}"
    events: list[dict[str, object]] = [
        {"event_type": "purchase_sword", "session_id": session, "sword_type": "katana", "price": 5 + i}
        for i in range(40)
    ]
    assert post(on_hdfs, events).status_code == 200
    wait_for(lambda: sum(ids(on_hdfs, "sword_purchases", session).values()) == 40, 180, "the events on HDFS")
    paths = [str(r[0]) for r in query.run(on_hdfs, 'select file_path from "sword_purchases$files"').rows]
    assert paths and all(p.startswith(on_hdfs.warehouse + "/") for p in paths), paths[:3]
    duck = Engine(on_hdfs, "duckdb")
    where = f"where session_id = '{session}'"
    assert duck.run(f"select count(*), sum(price) from sword_purchases {where}").rows == [(40, 980)]
    checkpoint = directory(on_hdfs.checkpoint_dir).child("stream")
    assert "metadata" in checkpoint.names(), "Spark's checkpoint is on HDFS"
    # The window is saved after the batch's commit, so a moment after the rows are visible.
    window = checkpoint.child("gamepipe-dedup")
    wait_for(lambda: "window.json" in window.names(), 60, "the dedup window on HDFS too")


def test_a_sigkill_of_the_job_loses_and_doubles_nothing_on_hdfs(on_hdfs: Settings) -> None:
    session = f"hdfs-kill-{uuid.uuid4().hex[:8]}"
    retried = str(uuid.uuid4())
    first: list[dict[str, object]] = [{"event_type": "join_guild", "session_id": session, "event_id": retried}]
    assert post(on_hdfs, first).status_code == 200
    wait_for(lambda: ids(on_hdfs, "events", session)[retried] == 1, 180, "the first event")
    sent = [str(uuid.uuid4()) for _ in range(300)]
    for chunk in range(0, 300, 30):  # batches in flight while the job dies
        batch: list[dict[str, object]] = [
            {"event_type": "join_guild", "session_id": session, "event_id": i} for i in sent[chunk : chunk + 30]
        ]
        assert post(on_hdfs, batch).status_code == 200
        if chunk == 120:
            kill_and_await_restart(Stream(on_hdfs))
    again: list[dict[str, object]] = [{"event_type": "join_guild", "session_id": session, "event_id": retried}]
    assert post(on_hdfs, again).status_code == 200  # a retry after the restart: a copy, by the window on HDFS
    # A batch appends to its tables in parallel, each its own commit: wait for both.
    tables = ("events", "join_guilds")
    wait_for(lambda: all(len(ids(on_hdfs, t, session)) == 301 for t in tables), 240, "every event after the restart")
    for table in tables:
        landed = ids(on_hdfs, table, session)
        assert set(landed) == {retried, *sent} and max(landed.values()) == 1, table
