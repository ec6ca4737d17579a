"""Prometheus metrics of the API, served at /metrics.

Counters of requests (by route and status) and events (by type and outcome), a
histogram of the broker's acknowledgement latency, a gauge of requests in flight.
With several server workers the stack sets PROMETHEUS_MULTIPROC_DIR (under var/api/)
before the workers start, so any worker answers /metrics for all of them.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as mp
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("gamepipe_api_requests_total", "HTTP requests answered", ["route", "status"])
EVENTS = Counter(
    "gamepipe_api_events_total",
    "Events by type and outcome (accepted, rejected, unavailable)",
    ["event_type", "outcome"],
)
PRODUCE_SECONDS = Histogram(
    "gamepipe_api_produce_seconds",
    "Time from producing a request's events to the broker's acks=all acknowledgement of all of them",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
PRODUCER_REBUILDS = Counter(
    "gamepipe_api_producer_rebuilds_total", "Kafka producers rebuilt after a fatal error (librdkafka)"
)
IN_FLIGHT = Gauge("gamepipe_api_requests_in_flight", "Requests being handled", multiprocess_mode="livesum")


async def metrics(_request: Request) -> Response:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        mp.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest()
    return Response(body, media_type=CONTENT_TYPE_LATEST)


class RequestMetrics:
    """Pure ASGI middleware (no per-request task, unlike BaseHTTPMiddleware)."""

    def __init__(self, app: ASGIApp, paths: frozenset[str]) -> None:
        self.app = app
        # Label by known paths only: an unknown path must not mint a new time series.
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            IN_FLIGHT.dec()
            path = scope["path"] if scope["path"] in self.paths else "(unmatched)"
            REQUESTS.labels(path, str(status)).inc()
