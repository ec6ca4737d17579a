"""The stream's guarantees on the real stack (a guarantee of docs/architecture.md):

- exactly-once: SIGKILL the stream job (driver and JVM) five times during steady load;
  supervisord restarts it each time, and after it catches up every acknowledged event is
  in its tables once;
- poison records written straight to Kafka land in rejected_events with their reason,
  and the valid events around them land; the stream never stops for them;
- the same event_id sent three times lands once, also when the stream job is killed
  between the copies.
"""

from __future__ import annotations

import json
import random
import shutil
import threading
import time
import uuid

import httpx
import pytest
from confluent_kafka import Producer

from gamepipe import query
from gamepipe.config import Settings
from gamepipe.events import utc_now_ms
from gamepipe.stack.apps import Stream
from tests.stack_helpers import kill_and_await_restart, wait_for

pytestmark = pytest.mark.stack


def session_counts(settings: Settings, table: str, session_id: str) -> dict[str, int]:
    rows = query.run(
        settings, f"select event_id, count(*) from {table} where session_id = '{session_id}' group by event_id"
    ).rows
    return {event_id: n for event_id, n in rows}


def post(settings: Settings, events: list[dict[str, object]]) -> httpx.Response:
    return httpx.post(f"http://{settings.api.host}:{settings.api.port}/v1/events", json={"events": events}, timeout=30)


def test_same_event_id_three_times_lands_once(stack: Settings) -> None:
    session = f"dedup-{uuid.uuid4().hex[:8]}"
    event_id = str(uuid.uuid4())
    event = {"event_type": "purchase_sword", "event_id": event_id, "session_id": session, "price": 5}
    for _ in range(3):  # a client retrying, e.g. after a timeout
        assert post(stack, [event]).status_code == 200
    marker = {"event_type": "purchase_sword", "session_id": session, "price": 1}
    assert post(stack, [marker]).status_code == 200
    wait_for(lambda: len(session_counts(stack, "sword_purchases", session)) == 2, what="both events")
    time.sleep(stack.stream.trigger_seconds * 3)  # later batches must not add a copy either
    assert session_counts(stack, "sword_purchases", session)[event_id] == 1
    assert session_counts(stack, "events", session)[event_id] == 1


def test_an_id_seen_before_a_sigkill_is_still_a_copy_after_the_restart(stack: Settings) -> None:
    # The dedup window lives in the job's memory and in a file per micro-batch beside the
    # checkpoint; the restarted job must read it back.
    session = f"dedup-kill-{uuid.uuid4().hex[:8]}"
    event_id = str(uuid.uuid4())
    event = {"event_type": "purchase_sword", "event_id": event_id, "session_id": session, "price": 5}
    assert post(stack, [event]).status_code == 200
    wait_for(lambda: len(session_counts(stack, "events", session)) == 1, what="the first copy")
    kill_and_await_restart(Stream(stack))
    marker = {"event_type": "purchase_sword", "session_id": session, "price": 1}
    assert post(stack, [event, marker]).status_code == 200  # the retry, and one new event
    wait_for(lambda: len(session_counts(stack, "events", session)) == 2, what="the new event")
    assert session_counts(stack, "events", session)[event_id] == 1
    assert session_counts(stack, "sword_purchases", session)[event_id] == 1


@pytest.mark.parametrize(("damage", "said"), [("garbage", "is damaged"), ("lost", "missing")])
def test_a_damaged_or_lost_dedup_window_is_said_and_rebuilt_from_the_tables(
    stack: Settings, damage: str, said: str
) -> None:
    session = f"window-{damage}-{uuid.uuid4().hex[:8]}"
    event_id = str(uuid.uuid4())
    event = {"event_type": "purchase_sword", "event_id": event_id, "session_id": session, "price": 5}
    assert post(stack, [event]).status_code == 200
    wait_for(lambda: len(session_counts(stack, "events", session)) == 1, what="the first copy")
    stream = Stream(stack)
    stream.stop()
    window = stack.stream_dir / "checkpoints" / "stream" / "gamepipe-dedup"
    if damage == "garbage":
        for path in window.glob("*.npz"):
            path.write_bytes(b"not a window file")
    else:
        shutil.rmtree(window)
    log_before = stream.log_path.stat().st_size
    stream.start()
    stream.wait_healthy()
    marker = {"event_type": "purchase_sword", "session_id": session, "price": 1}
    assert post(stack, [event, marker]).status_code == 200  # the retry, and one new event
    wait_for(lambda: len(session_counts(stack, "events", session)) == 2, what="the new event")
    assert session_counts(stack, "events", session)[event_id] == 1, "the retry is still a copy"
    assert session_counts(stack, "sword_purchases", session)[event_id] == 1
    status = Stream(stack).status()
    assert status is not None and status.dedup is not None and status.dedup.rebuilt_from_tables >= 1
    with stream.log_path.open("rb") as log:
        log.seek(log_before)
        text = log.read().decode(errors="replace")
    assert said in text and "dedup window rebuilt from the tables" in text, text[-3000:]


def test_poison_records_are_dead_letters_and_the_stream_goes_on(stack: Settings) -> None:
    # Written as another producer would, straight to the topic; the valid ones carry a
    # current received_at, as the API would stamp.
    session = f"poison-{uuid.uuid4().hex[:8]}"
    tag = uuid.uuid4().hex
    good = [
        {
            "event_id": str(uuid.uuid4()),
            "event_type": "join_guild",
            "schema_version": 1,
            "session_id": session,
            "received_at": utc_now_ms(),
            "is_synthetic": True,
            "guild_name": "Knights",
        }
        for _ in range(2)
    ]
    poison = {
        "not_json": f"not json at all {tag}".encode(),
        "unknown_event_type": json.dumps({**good[0], "event_type": "buy_castle", "tag": tag}).encode(),
        "schema_mismatch": json.dumps({**good[0], "schema_version": "one", "tag": tag}).encode(),
        "missing_received_at": json.dumps(
            {k: v for k, v in {**good[0], "tag": tag}.items() if k != "received_at"}
        ).encode(),
    }
    producer = Producer({"bootstrap.servers": stack.kafka.bootstrap, "enable.idempotence": True})
    producer.produce(stack.kafka.topic, json.dumps(good[0]).encode())
    for value in poison.values():
        producer.produce(stack.kafka.topic, value)
    producer.produce(stack.kafka.topic, json.dumps(good[1]).encode())
    assert producer.flush(10) == 0

    def dead_letters() -> dict[str, str]:
        rows = query.run(stack, f"select reason, raw_event from rejected_events where raw_event like '%{tag}%'").rows
        return {raw: reason for reason, raw in rows}

    wait_for(lambda: len(dead_letters()) == len(poison), what="the dead letters")
    by_raw = dead_letters()
    assert {reason: by_raw[value.decode()] for reason, value in poison.items()} == {r: r for r in poison}
    wait_for(lambda: len(session_counts(stack, "join_guilds", session)) == 2, what="the valid events around them")
    row = query.run(
        stack, f"select topic, \"offset\", raw_value from rejected_events where raw_event like 'not json%{tag}'"
    )
    [(topic, offset, raw_value)] = row.rows
    assert topic == stack.kafka.topic and offset >= 0 and bytes(raw_value) == poison["not_json"]


def test_sigkill_the_stream_five_times_under_load_exactly_once(stack: Settings) -> None:
    session = f"kill-{uuid.uuid4().hex[:8]}"
    acked: list[str] = []
    stop = threading.Event()
    failures: list[str] = []

    def load() -> None:
        while not stop.is_set():
            events = [
                {"event_type": "purchase_sword", "event_id": str(uuid.uuid4()), "session_id": session, "price": 2.5}
                for _ in range(20)
            ]
            try:
                response = post(stack, events)
            except httpx.HTTPError as exc:
                failures.append(str(exc))
                continue
            if response.status_code == 200:
                acked.extend(e["event_id"] for e in events)  # type: ignore[misc]
            time.sleep(0.05)

    stream = Stream(stack)
    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    try:
        for _ in range(5):
            time.sleep(random.uniform(3, 8))  # a random moment: mid-batch or between
            kill_and_await_restart(stream)  # supervisord restarts it
    finally:
        stop.set()
        loader.join(timeout=60)
    assert not failures, failures[:3]
    assert len(acked) > 500, "the load ran"

    wait_for(lambda: len(session_counts(stack, "sword_purchases", session)) >= len(acked), 300, "catching up")
    for table in ("sword_purchases", "events"):
        counts = session_counts(stack, table, session)
        assert set(counts) == set(acked), f"{table}: the set of acknowledged events"
        doubled = {k: n for k, n in counts.items() if n != 1}
        assert not doubled, f"{table}: {len(doubled)} events landed more than once"
