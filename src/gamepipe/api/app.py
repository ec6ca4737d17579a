"""The ingestion API (ASGI, Starlette): the seed's routes and `POST /v1/events`.

In: HTTP requests. Out: one Kafka record per accepted event on `kafka.topic`; a 2xx
answer only after the broker's `acks=all` acknowledgement, 503 + Retry-After when it
cannot be had within `api.produce_timeout_s`, a 4xx JSON error naming the field and
the rule for bad input (nothing produced). On shutdown (SIGTERM) the server stops
accepting, finishes requests in flight, then the lifespan flushes the producer.
Reads settings: kafka.*, api.*, schemas_dir. Run by the stack (`gamepipe up`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gamepipe.api import errors, openapi
from gamepipe.api.ingest import Ingest
from gamepipe.api.metrics import RequestMetrics, metrics
from gamepipe.api.producer import EventProducer, Producing
from gamepipe.config import Settings, load_settings
from gamepipe.events import SEED_ROUTES, load_contract
from gamepipe.log import for_services

log = logging.getLogger(__name__)


def _ingest(request: Request) -> Ingest:
    ingest: Ingest = request.app.state.ingest
    return ingest


def seed_endpoint(event_type: str, text: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await _ingest(request).seed_route(request, event_type, text)

    endpoint.__name__ = f"seed_{event_type}"
    return endpoint


async def post_events(request: Request) -> Response:
    return await _ingest(request).post_events(request)


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    why = await _ingest(request).not_ready()
    if why is None:
        return JSONResponse({"status": "ready"})
    return errors.error(503, "(broker)", "unavailable", why, headers={"Retry-After": errors.RETRY_AFTER_S})


def serve() -> Starlette:
    """The app as the stack's server runs it (granian's factory): log lines for the service's log."""
    for_services()
    return create_app()


def create_app(settings: Settings | None = None, new_producer: Callable[[], Producing] | None = None) -> Starlette:
    """The app; `new_producer` builds its Kafka producer (default: librdkafka's, from settings)."""
    settings = settings or load_settings()
    contract = load_contract(settings.schemas_dir)
    spec = openapi.build(contract, SEED_ROUTES)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        a = settings.api

        def librdkafka() -> Producing:
            return EventProducer(settings.kafka.bootstrap, a.produce_timeout_s, a.max_in_flight_events, a.linger_ms)

        ingest = Ingest(settings, contract, new_producer or librdkafka)
        app.state.ingest = ingest
        try:
            yield
        finally:
            # The server has drained the requests in flight by now: flush what is queued.
            left = ingest.producer.close()
            log.info("shut down, producer flushed (%d unflushed)", left)

    async def openapi_json(_request: Request) -> Response:
        return JSONResponse(spec)

    routes = [Route(path, seed_endpoint(*SEED_ROUTES[path]), methods=["GET"]) for path in SEED_ROUTES]
    routes += [
        Route("/v1/events", post_events, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
    ]
    paths = frozenset(r.path for r in routes)
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(RequestMetrics, paths=paths)],
        exception_handlers={HTTPException: errors.http_exception},
    )
