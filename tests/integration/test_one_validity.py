"""One validity, as a differential property test (a guarantee of docs/architecture.md): requests at the
contract's edges (tests/strategies.py) go through the real API onto a topic of their own
on the real broker; then the stream's own transform (`parse`, `Router`) reads back every
record of that topic. An event answered 2xx must come out in its tables, never in
rejected_events, with the values sent; an event refused must have been answered 4xx
(never 5xx) and left nothing in Kafka.

Hypothesis draws the requests; the stream side runs once on all of them afterwards (a
Spark job per example would take minutes), so a failure there lists its examples
rather than shrinking them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F
from starlette.testclient import TestClient

from bench.common import save
from gamepipe.api.app import create_app
from gamepipe.api.ingest import idempotent_id
from gamepipe.config import Settings
from gamepipe.events import Contract, load_contract, logical_type
from gamepipe.stack.kafka import ensure_topic
from gamepipe.stream.transform import Router, parse
from tests.integration.test_api import app_settings
from tests.kafka_helpers import consume
from tests.spark_helpers import kafka_rows, local_spark
from tests.strategies import Sample, samples

pytestmark = pytest.mark.stack

EXAMPLES = 3000


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    with local_spark() as session:
        yield session


def typed(contract: Contract, event_type: str, name: str, value: Any) -> Any:
    """A field's value as compared: instants in microseconds, decimals exactly."""
    props = {**contract.envelope["properties"], **contract.schemas[event_type][1].fields}
    if value is None or name not in props:
        return value
    kind = logical_type(name, props[name])
    if kind == "timestamp":
        # Python's own reader, not ours (validity.parse_timestamp), as the oracle.
        instant = datetime.fromisoformat(value)
        return round((instant - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1_000_000)
    if kind.startswith("decimal"):
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if kind == "boolean" and isinstance(value, str):
        return value.lower() == "true"
    return value


def sent_fields(sample: Sample) -> dict[str, Any]:
    """What the client sent for each field, as the API read it (JSON or query string)."""
    if sample.query is not None:
        return dict(sample.query)
    return {k: v for k, v in json.loads(sample.body()).items() if k not in ("event_type", "schema_version")}


def stored(column: str, kind: str) -> Column:
    if kind == "timestamp":
        return F.unix_micros(F.col(column)).alias(column)
    if kind.startswith("decimal"):
        return F.col(column).cast("string").alias(column)
    return F.col(column)


def test_what_the_api_accepts_the_stream_stores_with_the_values_sent(
    stack: Settings, unique: str, spark: SparkSession
) -> None:
    ensure_topic(stack.kafka, unique, partitions=1)
    contract = load_contract(stack.schemas_dir)
    accepted: dict[str, Sample] = {}  # event id -> what was sent
    statuses: dict[int, int] = {}
    now = datetime.now(UTC)

    with TestClient(create_app(app_settings(stack, unique))) as client:

        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(sample=samples(contract, now))
        def api_side(sample: Sample) -> None:
            headers: dict[str, str] = {}
            if sample.query is not None:
                if "event_id" not in sample.fields:  # a GET answers text: derive the id to find it
                    headers["Idempotency-Key"] = str(uuid.uuid4())
                response = client.get(sample.path, params=tuple(sample.query), headers=headers)
            else:
                response = client.post(
                    "/v1/events", content=sample.body(), headers={"Content-Type": "application/json"}
                )
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            assert response.status_code < 500, (sample, response.text)
            if response.status_code >= 400:
                assert response.json()["error"]["message"], "a refusal says what is wrong"
                return
            assert response.status_code == 200, (sample, response.text)
            if sample.query is None:
                event_id = response.json()["event_id"]
            else:
                event_id = str(sample.fields.get("event_id") or idempotent_id(headers["Idempotency-Key"]))
            accepted[event_id] = sample

        api_side()

    refused = sum(n for status, n in statuses.items() if status >= 400)
    # About one sample in eight is valid (9.6-12.5 % in the runs seen): both sides are tried.
    assert len(accepted) > EXAMPLES // 20 and refused > EXAMPLES // 20, f"both sides are tried: {statuses}"
    values = consume(stack.kafka.bootstrap, unique, expected=None, timeout_s=30)
    assert len(values) == len(accepted), "every 2xx once in Kafka, nothing of a refusal"

    tables = Router(contract, stack.stream).outputs(parse(kafka_rows(spark, values, unique), contract))
    assert tables["rejected_events"].count() == 0, tables["rejected_events"].select("reason", "raw_event").take(5)
    wrong: list[str] = []
    for event_type, table in [*stack.stream.routes.items(), (None, stack.stream.all_events_table or "events")]:
        columns = contract.table_columns(event_type)
        rows = {r["event_id"]: r.asDict() for r in tables[table].select(*(stored(n, k) for n, k in columns)).collect()}
        for event_id, sample in accepted.items():
            if event_type not in (None, sample.event_type):
                continue
            row = rows.get(event_id)
            if row is None:
                wrong.append(f"{table}: {event_id} is missing: {sample}")
                continue
            for name, value in sent_fields(sample).items():
                want = typed(contract, sample.event_type, name, value)
                got = row[name]
                got = Decimal(got) if isinstance(got, str) and want.__class__ is Decimal else got
                if got != want:
                    wrong.append(f"{table}: {event_id} {name}: sent {value!r}, stored {row[name]!r}")
    save(
        stack,
        "fuzz-validity",
        {
            "examples": EXAMPLES,
            "accepted": len(accepted),
            "refused": refused,
            "server_errors": sum(n for s, n in statuses.items() if s >= 500),
            "differences": len(wrong),
            "statuses": {str(k): v for k, v in statuses.items()},
        },
    )
    assert not wrong, f"{len(wrong)} differences, the first: " + "\n".join(wrong[:5])
