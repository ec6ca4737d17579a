"""The ingestion API (ASGI, Starlette): the seed's routes, each event acknowledged by Kafka.

In: HTTP requests. Out: one Kafka record per accepted event on `kafka.topic`; a 2xx
answer only after the broker's `acks=all` acknowledgement, 503 + Retry-After when it
cannot be had within `api.produce_timeout_s`, a 4xx JSON error naming the field and
the rule for bad input (nothing produced).
Reads settings: kafka.*, api.*, schemas_dir. Run: `gamepipe api` (uvicorn, workers).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from gamepipe.api.envelope import build_event
from gamepipe.api.producer import EventProducer, ProduceFailed
from gamepipe.config import Settings, load_settings
from gamepipe.events import Contract, Violation, load_contract

# The seed's routes: path -> (event_type, response text). Paths and texts are kept.
SEED_ROUTES: dict[str, tuple[str, str]] = {
    "/": ("default", "Welcome to Legends of Zion!\n"),
    "/purchase_a_sword": ("purchase_sword", "Sword Purchased!\n"),
    "/purchase_a_shield": ("purchase_shield", "Shield Purchased!\n"),
    "/join_guild": ("join_guild", "Guild Joined!\n"),
    "/purchase_a_potion": ("purchase_potion", "Potion Purchased!\n"),
}

RETRY_AFTER_S = "2"


def error(status: int, field: str, rule: str, message: str, **extra: Any) -> JSONResponse:
    body = {"error": {"field": field, "rule": rule, "message": message}}
    return JSONResponse(body, status_code=status, headers=extra.get("headers"))


class Ingest:
    """Shared state of one worker: the contract, the producer, the IP salt."""

    def __init__(self, settings: Settings, contract: Contract, producer: EventProducer) -> None:
        self.settings = settings
        self.contract = contract
        self.producer = producer
        # Salted so a hash cannot be reversed by hashing all IPv4 addresses; a fresh
        # salt per process unless configured (then hashes are stable across restarts).
        self.ip_salt = os.environ.get("GAMEPIPE_IP_SALT") or os.urandom(16).hex()

    async def produce(self, event: dict[str, Any]) -> Response | None:
        """None on success, else the 503 to answer."""
        key = (event.get("player_id") or event["event_id"]).encode()
        try:
            await self.producer.send(self.settings.kafka.topic, key, orjson.dumps(event))
        except (ProduceFailed, TimeoutError) as exc:
            return error(
                503,
                "(broker)",
                "unavailable",
                f"Kafka did not acknowledge the event in time ({exc}); nothing was kept, retry later",
                headers={"Retry-After": RETRY_AFTER_S},
            )
        return None


def seed_endpoint(path: str) -> Any:
    event_type, text = SEED_ROUTES[path]

    async def endpoint(request: Request) -> Response:
        ingest: Ingest = request.app.state.ingest
        contract = ingest.contract
        fields, violation = contract.coerce_query(event_type, request.query_params)
        if violation is None:
            event = build_event(
                event_type,
                contract.latest_version(event_type),
                fields,
                request.headers,
                request.client.host if request.client else None,
                ingest.ip_salt,
            )
            violation = contract.validate(event)
        if violation is not None:
            return violation_response(violation)
        failure = await ingest.produce(event)
        return failure or PlainTextResponse(text)

    endpoint.__name__ = f"seed_{event_type}"
    return endpoint


def violation_response(v: Violation) -> JSONResponse:
    return error(422, v.field, v.rule, v.message)


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    ingest: Ingest = request.app.state.ingest
    if ingest.producer.ping():
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "broker unreachable"}, status_code=503, headers={"Retry-After": RETRY_AFTER_S})


def create_app(settings: Settings | None = None, producer: EventProducer | None = None) -> Starlette:
    settings = settings or load_settings()
    contract = load_contract(settings.schemas_dir)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        prod = producer or EventProducer(settings.kafka.bootstrap, settings.api.produce_timeout_s)
        app.state.ingest = Ingest(settings, contract, prod)
        try:
            yield
        finally:
            # Requests in flight have finished (the server drains them first): flush.
            prod.close()

    routes = [Route(path, seed_endpoint(path), methods=["GET"]) for path in SEED_ROUTES]
    routes += [Route("/healthz", healthz), Route("/readyz", readyz)]
    return Starlette(routes=routes, lifespan=lifespan)
