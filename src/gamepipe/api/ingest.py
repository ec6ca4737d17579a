"""Turning requests into acknowledged Kafka records: the seed's GET routes and
`POST /v1/events` (one event, or a batch with per-event results).

In: a request. Out: the answer; every event answered `accepted` is in Kafka with
`acks=all`. Limits: 32 KiB per event, 500 events and 1 MiB per request, event fields
flat (no object or array values), `api.max_in_flight_events` waiting for the broker per
worker. Every route takes a client id, so a retry lands once: `event_id` (a query
parameter on the seed's routes, a field in JSON) or an `Idempotency-Key` header, from
which each event's id is derived (`idempotent_id`). A 503 names the ids to retry with.
Reads settings: kafka.topic, api.* (through `Ingest`).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from gamepipe.api import errors
from gamepipe.api.envelope import build_event, request_envelope, valid_uuid
from gamepipe.api.metrics import EVENTS, PRODUCE_SECONDS, PRODUCER_REBUILDS
from gamepipe.api.producer import Producing
from gamepipe.config import Settings
from gamepipe.events import REQUEST_FIELDS, Contract, Violation

log = logging.getLogger(__name__)

MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_EVENTS = 500
MAX_BODY_BYTES = 1024 * 1024

# A request carrying this header (any true-ish value) is marked synthetic (load tests).
SYNTHETIC_HEADER = "x-gamepipe-synthetic"
INGEST_KEY_HEADER = "x-ingest-key"
IDEMPOTENCY_HEADER = "idempotency-key"
MAX_IDEMPOTENCY_KEY = 255
# A client event's values are flat: never one of these.
NESTED_TYPES = (dict, list)
SERVER_FIELDS = frozenset(REQUEST_FIELDS)  # envelope fields only the server sets
# Event ids derived from an Idempotency-Key: uuid5 in a namespace of our own.
IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1d3c0e-3a4b-5c7d-9e2f-47616d657069")


@dataclass(frozen=True)
class Outcome:
    """What happened to one event of a request."""

    status: str  # accepted | rejected | unavailable
    event_id: str | None = None
    error: Violation | None = None

    def as_dict(self, index: int) -> dict[str, Any]:
        out: dict[str, Any] = {"index": index, "status": self.status}
        if self.event_id:
            out["event_id"] = self.event_id
        if self.error:
            out["error"] = self.error.as_dict()
        return out


def idempotent_id(key: str, index: int | None = None) -> str:
    """The event id an Idempotency-Key gives an event (the `index`-th of a batch)."""
    name = key if index is None else f"{key}#{index}"
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, name))


def idempotency_key(request: Request) -> str | Violation | None:
    """The request's Idempotency-Key, None without one, or why it is not usable."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not 0 < len(key) <= MAX_IDEMPOTENCY_KEY or not key.isascii() or not key.isprintable():
        return Violation(
            "Idempotency-Key",
            "format",
            f"the Idempotency-Key header must be 1-{MAX_IDEMPOTENCY_KEY} printable ASCII "
            "characters (a UUID is a good one)",
        )
    return key


class Readiness:
    """/readyz's answer without blocking the event loop: the broker is asked from a thread,
    at most once per `every_s`; callers meanwhile share the last answer."""

    def __init__(self, every_s: float = 1.0) -> None:
        self.every_s = every_s
        self._asked_at = -every_s
        self._answer: asyncio.Future[bool] | None = None

    async def broker_answers(self, producer: Producing) -> bool:
        now = time.monotonic()
        if self._answer is None or (self._answer.done() and now - self._asked_at >= self.every_s):
            self._asked_at = now
            self._answer = asyncio.ensure_future(asyncio.to_thread(producer.ping))
        return await asyncio.shield(self._answer)


class Ingest:
    """One worker's shared state: settings, the contract, the producer, the IP salt."""

    def __init__(self, settings: Settings, contract: Contract, make_producer: Callable[[], Producing]) -> None:
        self.settings = settings
        self.contract = contract
        self._make_producer = make_producer
        self.producer = make_producer()
        self._retired: set[asyncio.Task[int]] = set()  # failed producers being closed
        self.readiness = Readiness()
        self.in_flight = 0  # events produced and not yet acknowledged or failed
        self.max_in_flight = settings.api.max_in_flight_events
        self.topic = settings.kafka.topic
        # Salted so a hash cannot be reversed by hashing every IPv4 address. Configure
        # GAMEPIPE_IP_SALT for hashes stable across restarts and workers.
        self.ip_salt = os.environ.get("GAMEPIPE_IP_SALT") or os.urandom(16).hex()
        self.ingest_key = settings.api.ingest_key

    # -- checks shared by every route ---------------------------------------------
    def refuse_key(self, request: Request) -> Response | None:
        if self.ingest_key is None:
            return None
        given = request.headers.get(INGEST_KEY_HEADER, "")
        if hmac.compare_digest(given.encode(), self.ingest_key.encode()):
            return None
        return errors.error(401, INGEST_KEY_HEADER, "ingest_key", f"missing or wrong {INGEST_KEY_HEADER} header")

    def common_envelope(self, request: Request) -> dict[str, Any]:
        return request_envelope(
            request.headers,
            request.client.host if request.client else None,
            self.ip_salt,
            is_synthetic=request.headers.get(SYNTHETIC_HEADER, "").lower() in ("1", "true", "yes"),
        )

    def envelope_for(self, event_type: str, fields: Mapping[str, Any], common: Mapping[str, Any]) -> dict[str, Any]:
        """The event to produce; `fields` passed `client_field_problem` first."""
        version = fields.get("schema_version")
        latest = self.contract.latest_version(event_type) if version is None else int(version)
        return build_event(event_type, latest, fields, common)  # it sets the type and version itself

    # -- the producer -------------------------------------------------------------------
    async def not_ready(self) -> str | None:
        """Why this worker cannot accept events now, or None. A failed producer is said,
        and replaced at once, so the next check (or request) finds a new one."""
        if self.producer.fatal is not None:
            why = f"the Kafka producer failed ({self.producer.fatal}); a new one is being built"
            self._replace_failed_producer()
            return why
        if not await self.readiness.broker_answers(self.producer):
            return "Kafka is unreachable"
        return None

    def _replace_failed_producer(self) -> None:
        """A producer with a fatal error fails every record: build a new one, close the old
        one off the event loop (its flush ends at once: nothing it holds can be sent)."""
        failed = self.producer
        if failed.fatal is None:
            return
        log.error("the Kafka producer failed (%s); building a new one", failed.fatal)
        self.producer = self._make_producer()
        PRODUCER_REBUILDS.inc()
        task = asyncio.ensure_future(asyncio.to_thread(failed.close, 1.0))
        self._retired.add(task)
        task.add_done_callback(self._retired.discard)

    async def produce(self, events: list[dict[str, Any]]) -> list[Outcome]:
        """Produce every event, then wait (once, bounded) for all acknowledgements. Beyond
        `max_in_flight` events waiting, nothing is produced: each is `busy`."""
        if self.in_flight + len(events) > self.max_in_flight:
            busy = Violation(
                "(broker)",
                "busy",
                f"{self.in_flight} events are waiting for Kafka's acknowledgement in "
                "this worker; nothing of this request was stored",
            )
            self._count(events, "unavailable")
            return [Outcome("unavailable", e["event_id"], busy) for e in events]
        self._replace_failed_producer()
        started = time.perf_counter()
        records = [((e.get("player_id") or e["event_id"]).encode(), orjson.dumps(e)) for e in events]
        self.in_flight += len(events)
        try:
            failures = await self.producer.submit(self.topic, records).wait(self.producer.timeout_s + 1.0)
        finally:
            self.in_flight -= len(events)
        PRODUCE_SECONDS.observe(time.perf_counter() - started)
        outcomes = []
        counts: Counter[tuple[str, str]] = Counter()
        for event, failure in zip(events, failures, strict=True):
            if failure is None:
                outcomes.append(Outcome("accepted", event["event_id"]))
            else:
                problem = Violation("(broker)", "unavailable", failure)
                outcomes.append(Outcome("unavailable", event["event_id"], problem))
            counts[(event["event_type"], outcomes[-1].status)] += 1
        for (event_type, status), n in counts.items():
            EVENTS.labels(event_type, status).inc(n)
        return outcomes

    def _count(self, events: list[dict[str, Any]], outcome: str) -> None:
        for event_type, n in Counter(e["event_type"] for e in events).items():
            EVENTS.labels(event_type, outcome).inc(n)

    def reject(self, event_type: str, violation: Violation) -> Outcome:
        EVENTS.labels(event_type if event_type in self.contract.schemas else "(unknown)", "rejected").inc()
        return Outcome("rejected", error=violation)

    # -- the seed's GET routes ------------------------------------------------------
    async def seed_route(self, request: Request, event_type: str, text: str) -> Response:
        refused = self.refuse_key(request)
        if refused:
            return refused
        params = request.query_params.multi_items()
        twice = sorted({k for k, _ in params if sum(1 for key, _ in params if key == k) > 1})
        fields: dict[str, Any] = {}
        problem: Violation | None = None
        if twice:
            problem = Violation(twice[0], "unique", f"parameter {twice[0]!r} is given more than once; give it once")
        else:
            fields, problem = self.contract.coerce_query(event_type, dict(params))
        key = idempotency_key(request)
        if isinstance(key, Violation):
            problem = problem or key
        elif key is not None:
            fields.setdefault("event_id", idempotent_id(key))
        event: dict[str, Any] = {}
        problem = problem or client_field_problem(fields)
        if problem is None:
            event = self.envelope_for(event_type, fields, self.common_envelope(request))
            problem = self.contract.validate(event)
        if problem is not None:
            self.reject(event_type, problem)
            return errors.violation(problem)
        [outcome] = await self.produce([event])
        if outcome.status != "accepted":
            return errors.unavailable(outcome.error, event["event_id"])
        return PlainTextResponse(text)

    # -- POST /v1/events --------------------------------------------------------------
    async def post_events(self, request: Request) -> Response:
        refused = self.refuse_key(request)
        if refused:
            return refused
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return errors.error(
                415, "content-type", "media_type", f"send application/json, not {content_type or 'nothing'!r}"
            )
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return too_large_body(int(declared))
        body = await read_limited(request, MAX_BODY_BYTES)
        if body is None:
            return too_large_body(None)
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return errors.error(400, "(body)", "json", f"the body is not valid JSON: {exc}")
        key = idempotency_key(request)
        if isinstance(key, Violation):
            return errors.violation(key)
        if isinstance(doc, dict) and "events" in doc:
            return await self._batch(request, doc["events"], key)
        if isinstance(doc, dict):
            return await self._single(request, doc, key)
        return errors.error(400, "(body)", "shape", 'send one event object, or {"events": [event, ...]}')

    async def _single(self, request: Request, raw: dict[str, Any], key: str | None) -> Response:
        common = self.common_envelope(request)
        problem = self.contract.validate_request_fields(common)
        if problem is not None:
            self.reject(str(raw.get("event_type")), problem)
            return errors.violation(problem)
        event_or_outcome = self._prepare(raw, common, None if key is None else idempotent_id(key))
        if isinstance(event_or_outcome, Outcome):
            assert event_or_outcome.error is not None
            status = 413 if event_or_outcome.error.rule == "maxBytes" else 422
            return errors.violation(event_or_outcome.error, status)
        [outcome] = await self.produce([event_or_outcome])
        if outcome.status != "accepted":
            return errors.unavailable(outcome.error, event_or_outcome["event_id"])
        return errors.FastJSONResponse({"status": "accepted", "event_id": outcome.event_id})

    async def _batch(self, request: Request, raw_events: Any, key: str | None) -> Response:
        if not isinstance(raw_events, list):
            return errors.error(400, "events", "type", '"events" must be a list of event objects')
        if len(raw_events) > MAX_BATCH_EVENTS:
            return errors.error(
                413, "events", "maxItems", f"{len(raw_events)} events; at most {MAX_BATCH_EVENTS} per request"
            )
        if not raw_events:
            return errors.error(422, "events", "minItems", "the batch is empty")
        common = self.common_envelope(request)
        problem = self.contract.validate_request_fields(common)
        if problem is not None:  # a header every event would carry is invalid
            return errors.violation(problem)
        ids = [None if key is None else idempotent_id(key, i) for i in range(len(raw_events))]
        prepared = [self._prepare(raw, common, derived) for raw, derived in zip(raw_events, ids, strict=True)]
        to_send = [(i, e) for i, e in enumerate(prepared) if not isinstance(e, Outcome)]
        sent = await self.produce([e for _, e in to_send])
        outcomes: list[Outcome] = [e if isinstance(e, Outcome) else Outcome("pending") for e in prepared]
        for (i, _), outcome in zip(to_send, sent, strict=True):
            outcomes[i] = outcome
        counts = {s: sum(1 for o in outcomes if o.status == s) for s in ("accepted", "rejected", "unavailable")}
        body: dict[str, Any] = {**counts, "results": [o.as_dict(i) for i, o in enumerate(outcomes)]}
        if counts["unavailable"]:
            status, headers = 503, {"Retry-After": errors.RETRY_AFTER_S}
            body["retry"] = errors.RETRY_ADVICE
        elif counts["rejected"] == len(outcomes):
            too_large = all(o.error is not None and o.error.rule == "maxBytes" for o in outcomes)
            status, headers = (413 if too_large else 422), None
        elif counts["rejected"]:
            status, headers = 207, None
        else:
            status, headers = 200, None
        return errors.FastJSONResponse(body, status, headers=headers)

    def _prepare(self, raw: Any, common: Mapping[str, Any], derived_id: str | None) -> dict[str, Any] | Outcome:
        """A client event -> the event to produce, or the reason it is rejected.
        `common` passed `validate_request_fields` already; `derived_id` (from an
        Idempotency-Key) is the event's id unless it carries its own."""
        if not isinstance(raw, dict):
            return self.reject("(unknown)", Violation("(event)", "type", "each event must be a JSON object"))
        event_type = raw.get("event_type")
        nested = next((k for k, v in raw.items() if isinstance(v, NESTED_TYPES)), None)
        if nested is not None:  # before anything walks the value: it may nest a thousand levels
            return self.reject(
                str(event_type),
                Violation(
                    str(nested),
                    "type",
                    f"{nested!r} is an object or array; an event's fields are strings, numbers, booleans or null",
                ),
            )
        size = len(orjson.dumps(raw))  # flat, and orjson reads no integer beyond 64 bits: it cannot fail
        if size > MAX_EVENT_BYTES:
            return self.reject(
                str(event_type), Violation("(event)", "maxBytes", f"{size} bytes; at most {MAX_EVENT_BYTES} per event")
            )
        if not isinstance(event_type, str) or event_type not in self.contract.schemas:
            known = ", ".join(self.contract.event_types)
            return self.reject(
                str(event_type), Violation("event_type", "enum", f"unknown event_type {event_type!r}; known: {known}")
            )
        if not SERVER_FIELDS.isdisjoint(raw):
            server_only = sorted(SERVER_FIELDS.intersection(raw))
            return self.reject(
                event_type, Violation(server_only[0], "readOnly", f"{server_only[0]} is set by the server, not sent")
            )
        problem = client_field_problem(raw)
        if problem is not None:
            return self.reject(event_type, problem)
        if derived_id is not None and "event_id" not in raw:
            raw = {**raw, "event_id": derived_id}
        event = self.envelope_for(event_type, raw, common)
        problem = self.contract.validate(event, request_fields_checked=True)
        if problem is not None:
            return self.reject(event_type, problem)
        return event


def client_field_problem(fields: Mapping[str, Any]) -> Violation | None:
    """Checks on the envelope fields a client may send, before the envelope is built."""
    if "event_id" in fields and not valid_uuid(fields["event_id"]):
        return Violation("event_id", "format", f"event_id {fields['event_id']!r} is not a UUID; omit it or send one")
    version = fields.get("schema_version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        return Violation("schema_version", "type", f"schema_version must be an integer, got {version!r}")
    return None


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it exceeds `limit` (chunked bodies included)."""
    chunks = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def too_large_body(size: int | None) -> Response:
    told = f"{size} bytes" if size is not None else "the body"
    return errors.error(413, "(body)", "maxBytes", f"{told} exceeds {MAX_BODY_BYTES} bytes per request")
