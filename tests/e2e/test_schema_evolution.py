"""Schema evolution on the real stack: a v2 schema with a new optional field lands
without rewriting the table, and rows written before read the new field as null.

Runs a second stream job and API of its own (own topic, own namespace, own checkpoint),
so the stack's tables keep the repository's contract."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gamepipe import query
from gamepipe.config import Settings
from gamepipe.stack.apps import server_argv
from gamepipe.stack.base import free_port
from gamepipe.stack.kafka import ensure_topic
from tests.stack_helpers import wait_for

pytestmark = pytest.mark.stack


class Pipeline:
    """The stream job and the API, started with settings of their own."""

    def __init__(self, stack: Settings, tmp: Path, port: int) -> None:
        tag = uuid.uuid4().hex[:8]
        self.namespace, self.topic, self.port, self.tmp = f"evolution_{tag}", f"evolution-{tag}", port, tmp
        self.env = dict(
            os.environ,
            GAMEPIPE_SCHEMAS=str(tmp / "schemas"),
            GAMEPIPE_KAFKA__TOPIC=self.topic,
            GAMEPIPE_CATALOG__NAMESPACE=self.namespace,
            GAMEPIPE_STREAM__STATE_DIR=str(tmp / "stream"),
            GAMEPIPE_STREAM__MAINTAIN_EVERY_MINUTES="0",
            GAMEPIPE_VAR_DIR=str(stack.var),
        )
        self.procs: list[subprocess.Popen[bytes]] = []
        ensure_topic(stack.kafka, self.topic, 1)

    def start(self) -> None:
        status = self.tmp / "stream" / "status.json"
        status.unlink(missing_ok=True)
        api = server_argv("127.0.0.1", self.port, 1, self.tmp)
        with (self.tmp / "pipeline.log").open("ab") as log:  # the children keep their own copy
            for argv in ([sys.executable, "-m", "gamepipe.stream"], api):
                self.procs.append(subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT))
        wait_for(lambda: status.exists() and json.loads(status.read_text())["ready"], 180, "the stream job")
        wait_for(lambda: self._ready(), 60, "the API")

    def _ready(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/readyz").status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(timeout=60)
        self.procs.clear()

    def send(self, events: list[dict[str, object]]) -> None:
        response = httpx.post(f"http://127.0.0.1:{self.port}/v1/events", json={"events": events}, timeout=30)
        assert response.status_code == 200, response.text


@pytest.fixture
def pipeline(stack: Settings, tmp_path: Path) -> Iterator[Pipeline]:
    shutil.copytree(stack.schemas_dir, tmp_path / "schemas")
    p = Pipeline(stack, tmp_path, free_port())
    try:
        yield p
    finally:
        p.stop()
        for table in stack.stream.tables:
            query.run(stack, f'drop table if exists "{p.namespace}".{table}')
        query.run(stack, f'drop schema if exists "{p.namespace}"')


def test_a_new_optional_field_lands_and_old_rows_read_null(stack: Settings, pipeline: Pipeline) -> None:
    table = f'"{pipeline.namespace}".sword_purchases'

    def rows() -> list[tuple[object, ...]]:
        return query.run(stack, f"select price, enchantment from {table} order by price").rows

    def files() -> set[str]:
        return {
            r[0] for r in query.run(stack, f'select file_path from "{pipeline.namespace}"."sword_purchases$files"').rows
        }

    pipeline.start()
    pipeline.send([{"event_type": "purchase_sword", "price": p} for p in (1, 2)])
    wait_for(lambda: query.count(stack, table) == 2, what="the v1 events")
    before = files()
    pipeline.stop()

    v1 = json.loads((pipeline.tmp / "schemas" / "purchase_sword.v1.json").read_text())
    v2 = {
        **v1,
        "$id": "gamepipe/purchase_sword/v2",
        "properties": {**v1["properties"], "enchantment": {"type": ["string", "null"], "maxLength": 32}},
    }
    (pipeline.tmp / "schemas" / "purchase_sword.v2.json").write_text(json.dumps(v2))
    pipeline.start()
    pipeline.send([{"event_type": "purchase_sword", "price": 3, "enchantment": "fire"}])
    wait_for(lambda: query.count(stack, table) == 3, what="the v2 event")

    assert [(float(str(p)), e) for p, e in rows()] == [(1.0, None), (2.0, None), (3.0, "fire")]
    assert before <= files(), "the v1 files are still the table's: nothing was rewritten"
    [(version,)] = query.run(stack, f"select schema_version from {table} where enchantment = 'fire'").rows
    assert version == 2
