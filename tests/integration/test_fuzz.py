"""The fuzz stage: no input, however deep, long or strange, gets a 5xx, and nothing is
produced for a refusal (a guarantee of docs/architecture.md).

- Hypothesis on raw bodies (bytes, JSON of any shape, events at the contract's edges
  with their bytes cut or flipped) and on query strings and headers (known and unknown
  parameters, repeated, percent-encoded junk), through the real app in-process, producing
  to a topic of its own on the real broker: every answer below 500, and the topic holds
  exactly as many records as events were answered accepted;
- schemathesis from /openapi.json against the real server (granian), a thousand examples
  per operation (its stateful phase left out: two more minutes of CI for links the
  coverage and fuzzing phases already walk).

The cases tried are counted and saved (`var/bench/fuzz.json`, shown in docs/benchmarks.md).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from bench.common import save
from gamepipe.api.app import create_app
from gamepipe.config import Settings
from gamepipe.events import SEED_ROUTES, load_contract
from gamepipe.stack.kafka import ensure_topic
from tests.integration.test_api import app_settings
from tests.integration.test_api_durability import api_process  # noqa: F401 - a fixture
from tests.kafka_helpers import consume
from tests.strategies import samples

pytestmark = pytest.mark.stack

BODIES = 25_000
QUERIES = 25_000
SCHEMATHESIS_PER_OPERATION = 1_000

FIELDS = ["event_id", "event_type", "schema_version", "price", "currency", "sword_type", "guild_id", "guild_name",
          "client_ts", "player_id", "session_id", "received_at", "host", "events", "", "x"]  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=5), children, max_size=5)
    ),
    max_leaves=20,
)


def mangled(body: bytes, data: st.DataObject) -> bytes:
    """A body with a byte cut, flipped or repeated somewhere."""
    if not body:
        return body
    at = data.draw(st.integers(0, len(body) - 1))
    how = data.draw(st.sampled_from(["cut", "flip", "repeat", "nul"]))
    if how == "cut":
        return body[:at]
    if how == "flip":
        return body[:at] + bytes([body[at] ^ 0x80]) + body[at + 1 :]
    if how == "repeat":
        return body[:at] + body[at:] * 2
    return body[:at] + b"\x00" + body[at:]


def accepted_events(response: Any) -> int:
    """How many events an answer says were accepted (a GET's 200 is one)."""
    if response.status_code not in (200, 207):
        return 0
    if response.headers.get("content-type", "").startswith("text/plain"):
        return 1
    body = response.json()
    return int(body["accepted"]) if "accepted" in body else 1


def test_no_body_query_or_header_gets_a_5xx_and_refusals_produce_nothing(stack: Settings, unique: str) -> None:
    ensure_topic(stack.kafka, unique, partitions=1)
    contract = load_contract(stack.schemas_dir)
    now = datetime.now(UTC)
    tried = {"bodies": 0, "queries": 0}
    statuses: dict[int, int] = {}
    accepted = 0

    def record(response: Any, what: object) -> None:
        nonlocal accepted
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code < 500, (what, response.text[:500])
        if response.status_code >= 400:
            body = response.json()
            errors = [r["error"] for r in body["results"] if "error" in r] if "results" in body else [body["error"]]
            assert errors and all(e["message"] and "field" in e for e in errors), "a refusal says what is wrong"
        accepted += accepted_events(response)

    with TestClient(create_app(app_settings(stack, unique))) as client:
        content_types = st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain",
                                         "APPLICATION/JSON", "", "application/x-www-form-urlencoded"])  # fmt: skip

        @settings(max_examples=BODIES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(data=st.data(), content_type=content_types)
        def bodies(data: st.DataObject, content_type: str) -> None:
            kind = data.draw(st.sampled_from(["bytes", "json", "event", "batch", "mangled"]))
            if kind == "bytes":
                body = data.draw(st.binary(max_size=200))
            elif kind == "json":
                body = json.dumps(data.draw(JSON)).encode()
            elif kind == "event":
                body = data.draw(samples(contract, now)).body()
            else:
                events = data.draw(st.lists(samples(contract, now), min_size=0, max_size=5))
                body = b'{"events": [' + b",".join(s.body() for s in events) + b"]}"
                if kind == "mangled":
                    body = mangled(body, data)
            headers = {"Content-Type": content_type} if content_type else {}
            if data.draw(st.booleans()):
                headers["Idempotency-Key"] = data.draw(st.sampled_from([str(uuid.uuid4()), "", "k" * 300, "ключ"]))
            try:
                response = client.post("/v1/events", content=body, headers=headers)
            except UnicodeEncodeError:  # the client cannot send a non-latin-1 header at all
                return
            tried["bodies"] += 1
            record(response, body[:300])

        paths = st.sampled_from([*SEED_ROUTES, "/v1/events", "/nope", "/purchase_a_sword/", "//"])
        keys = st.sampled_from(FIELDS) | st.text(max_size=8)
        values = (st.text(max_size=40) | st.sampled_from(["nan", "inf", "-0", "1e400", "0.005", "12.50", "true",
                  "2026-12-01T10:00:60Z", "%00", "%ff%fe", "\x00", "a" * 300]))  # fmt: skip

        @settings(max_examples=QUERIES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(path=paths, params=st.lists(st.tuples(keys, values), max_size=6), raw=st.booleans(),
               host=st.sampled_from(["user1.comcast.com", "", "h" * 300]))  # fmt: skip
        def queries(path: str, params: list[tuple[str, str]], raw: bool, host: str) -> None:
            # raw: the query string as given, percent signs and all, not encoded by the client
            url = path + ("?" + "&".join(f"{k}={v}" for k, v in params) if raw else "")
            try:
                given = None if raw else tuple(params)
                response = client.get(url, params=given, headers={"Host": host} if host else {})
            except (UnicodeEncodeError, ValueError, httpx2.InvalidURL):  # a URL or header the client cannot send
                return
            tried["queries"] += 1
            record(response, url)

        bodies()
        queries()

    values_in_kafka = consume(stack.kafka.bootstrap, unique, expected=None, timeout_s=60)
    assert len(values_in_kafka) == accepted, f"{accepted} events answered accepted, {len(values_in_kafka)} in Kafka"
    assert tried["bodies"] > BODIES * 0.8 and tried["queries"] > QUERIES * 0.5, f"cases the client could send: {tried}"
    assert accepted > 100, f"the fuzz reached acceptance too: {statuses}"
    save(
        stack,
        "fuzz-api",
        {
            "tried": tried,
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "server_errors": sum(n for s, n in statuses.items() if s >= 500),
            "accepted_events": accepted,
            "records_in_kafka": len(values_in_kafka),
        },
    )


def test_schemathesis_finds_no_server_error(stack: Settings, api_process: tuple[Any, str, str, Path]) -> None:  # noqa: F811
    _proc, base, _topic, _log = api_process
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "st"),
            "run",
            f"{base}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            str(SCHEMATHESIS_PER_OPERATION),
            "--request-timeout",
            "10",
            "--no-color",
            "--phases",
            "examples,coverage,fuzzing",
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    cases = sum(int(n) for n in re.findall(r"(\d+) generated", result.stdout)) or None
    save(
        stack,
        "fuzz-schemathesis",
        {"per_operation": SCHEMATHESIS_PER_OPERATION, "cases": cases, "summary": result.stdout[-1500:]},
    )
