"""The stream's transforms on a local Spark session, no Kafka: parse, reject, dedup, route."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pyspark.sql import SparkSession

from gamepipe import rollup
from gamepipe.config import load_settings
from gamepipe.events import REJECTED_COLUMNS, Contract, load_contract
from gamepipe.stream.transform import Router, dedup_key_columns, deduplicate, parse, without_copies
from gamepipe.stream.writer import landed_base
from tests.spark_helpers import kafka_rows, local_spark


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    with local_spark() as session:
        yield session


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract(load_settings().schemas_dir)


def event(event_type: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": 1,
        "received_at": "2026-11-28T08:00:00.000Z",
        "is_synthetic": False,
        "host": "h",
        **fields,
    }


def test_invalid_records_are_rejected_with_their_reason(spark: SparkSession, contract: Contract) -> None:
    sword = event("purchase_sword", price=9.99, currency="EUR", sword_type="katana")
    values = [
        json.dumps(sword).encode(),
        b"hello, not json",
        json.dumps(event("buy_castle")).encode(),
        json.dumps(event("purchase_sword", price="abc")).encode(),
        json.dumps(event("purchase_sword", schema_version=9)).encode(),
        json.dumps({k: v for k, v in event("default").items() if k != "event_id"}).encode(),
        b"",
        b"[1, 2]",
    ]
    parsed = parse(kafka_rows(spark, values), contract)
    reasons = [r.reject_reason for r in parsed.orderBy("offset").collect()]
    assert reasons == [
        None,
        "not_json",
        "unknown_event_type",
        "schema_mismatch",
        "unknown_schema_version",
        "missing_event_id",
        "not_json",
        "not_json",
    ]

    tables = Router(contract, load_settings().stream).outputs(parsed)
    dead = tables["rejected_events"].orderBy("offset").collect()
    assert [name for name, _ in REJECTED_COLUMNS] == tables["rejected_events"].columns
    assert dead[0].raw_value == b"hello, not json" and dead[0].offset == 1 and dead[0].topic == "events"

    [row] = tables["sword_purchases"].collect()
    assert row.event_id == sword["event_id"] and str(row.price) == "9.99" and row.host == "h"
    assert row.raw_event == values[0].decode()


def test_duplicates_collapse_and_routing_keeps_table_columns(spark: SparkSession, contract: Contract) -> None:
    sword = event("purchase_sword", price=1.5, sword_type="iron", session_id="20261128-080000-s7-p1-1")
    guild = event("join_guild", guild_name="Knights", session_id="5f0c-11ee-9a3b")  # no load run's
    values = [json.dumps(e).encode() for e in (sword, sword, sword, guild)]
    values += [b"not json", b"not json"]  # rejected records are never collapsed
    rows = deduplicate(parse(kafka_rows(spark, values), contract))
    router = Router(contract, load_settings().stream)
    tables = router.outputs(rows)
    swords = tables["sword_purchases"]
    assert swords.columns == [name for name, _ in contract.table_columns("purchase_sword")]
    assert swords.count() == 1
    first = swords.first()
    assert first is not None and first.received_at is not None and first.event_id == sword["event_id"]
    everything = tables["events"]
    assert everything.columns == [name for name, _ in contract.table_columns(None)]
    assert sorted(r.event_type for r in everything.collect()) == ["join_guild", "purchase_sword"]
    assert tables["rejected_events"].count() == 2
    kinds = {"purchase_sword": 1, "join_guild": 1, None: 2}
    per_table = {"sword_purchases": 1, "join_guilds": 1, "events": 2, "player_sessions": 2, "item_days": 2,
                 "rejected_events": 2}  # fmt: skip
    assert router.rows_per_table(kinds) == per_table
    sessions = tables["player_sessions"]
    assert sessions.columns == [name for name, _ in rollup.PLAYER_SESSIONS.table_columns()]
    items = tables["item_days"]
    assert items.columns == [name for name, _ in rollup.ITEM_DAYS.table_columns()]
    by_type = {r.event_type: r for r in items.collect()}
    assert sorted(by_type) == ["join_guild", "purchase_sword"] and by_type["join_guild"].item is None
    assert by_type["purchase_sword"].purchase_count == 1 and by_type["join_guild"].purchase_count == 0
    assert (by_type["purchase_sword"].item, by_type["purchase_sword"].run) == ("iron", "20261128-080000-s7")
    assert by_type["join_guild"].run == "", "a session no load run made belongs to none"
    rolled = sessions.collect()
    assert sum(r.event_count for r in rolled) == 2 and {r.event_count for r in rolled} <= {1, 2}
    assert sum(r.sword_count for r in rolled) == 1 and sum(r.join_count for r in rolled) == 1
    assert {r.landed for r in rolled} == {0}, "landed 0 when the writer gives none"
    assert "players" not in tables, "table care writes players, not a micro-batch"
    landed = router.outputs(rows, {"player_sessions": 42})["player_sessions"].collect()
    assert {r.landed for r in landed} == {42}, "the micro-batch's sequence number in every row"

    # The stream builds its Router once and hands it every micro-batch: the next batch's
    # rows, not the first's, come out.
    later = [json.dumps(event("join_guild", guild_name="Owls")).encode(), b"{"]
    rows2 = parse(kafka_rows(spark, later), contract)
    assert [r.guild_name for r in router.outputs(rows2)["join_guilds"].collect()] == ["Owls"]


def test_replay_keeps_the_first_copy_in_kafka_order(spark: SparkSession, contract: Contract) -> None:
    first = event("purchase_sword", price=1.5)
    retry = {**first, "received_at": "2026-11-28T08:00:05.000Z"}  # the API stamps each try
    rows = deduplicate(parse(kafka_rows(spark, [json.dumps(e).encode() for e in (first, retry)]), contract))
    [row] = rows.collect()
    assert row.offset == 0 and row.received_at == datetime(2026, 11, 28, 8, 0, tzinfo=UTC).replace(tzinfo=None)


def test_dedup_keys_are_the_same_for_one_id_and_absent_for_rejected_records(
    spark: SparkSession, contract: Contract
) -> None:
    sword, other = event("purchase_sword"), event("purchase_sword")
    values = [json.dumps(e).encode() for e in (sword, other, {**sword, "received_at": "2026-11-28T08:00:07.000Z"})]
    keys = parse(kafka_rows(spark, [*values, b"not json"]), contract).select(*dedup_key_columns()).toArrow()
    rows = keys.to_pylist()
    assert (rows[0]["hi"], rows[0]["lo"]) == (rows[2]["hi"], rows[2]["lo"]), "a retry has its original's key"
    assert rows[0]["hi"] != rows[1]["hi"] and rows[0]["lo"] != rows[1]["lo"]
    assert rows[0]["hi"] != rows[0]["lo"], "two hashes, not one twice"
    assert rows[2]["at"] - rows[0]["at"] == 7_000_000 and rows[0]["kind"] == "purchase_sword"
    assert {k: v for k, v in rows[3].items() if k not in ("partition", "offset")} == dict.fromkeys(
        ("kind", "hi", "lo", "at")
    )


def test_without_copies_drops_exactly_the_rows_at_those_coordinates(spark: SparkSession, contract: Contract) -> None:
    values = [json.dumps(event("purchase_sword", price=p)).encode() for p in (1, 2, 3)]
    rows = parse(kafka_rows(spark, values), contract)
    copies = spark.createDataFrame([(0, 1)], "partition int, offset long")
    assert sorted(r.offset for r in without_copies(rows, copies).collect()) == [0, 2]
    assert without_copies(rows, copies).columns == rows.columns


def test_landed_grows_with_every_batch_across_restarts_and_a_new_checkpoint() -> None:
    # The first query on an empty table: its batch ids as they are.
    assert landed_base(None, -1) == 0
    # The same query restarted after batch 7 (landed 7): batch 8 lands as 8.
    assert landed_base(7, 7) + 8 == 8
    # A new checkpoint starts its batch ids at 0: its first batch lands past the 7 held.
    base = landed_base(7, -1)
    assert base + 0 == 8
    # ...and restarted after its batch 3 (landed 11), its batch 4 lands as 12.
    assert landed_base(base + 3, 3) + 4 == 12
