"""Error answers: one JSON shape for every refusal, naming the field and the rule.

    {"error": {"field": "price", "rule": "type", "message": "price must be number or null"}}

400 malformed, 401 bad ingestion key, 404/405 unknown route or method, 413 too large,
415 content type, 422 schema violation: nothing is produced for a refused event. 503: the
broker did not acknowledge in time, so the event is *not acknowledged* and may or may
not be stored; a retry with the same event id lands once (the 503 names the id), after
`Retry-After` seconds.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gamepipe.events import Violation


class FastJSONResponse(JSONResponse):
    """JSONResponse rendered with orjson: a 100-event batch's per-event results are
    the biggest body we send, and the stdlib encoder showed in the profile."""

    def render(self, content: object) -> bytes:
        return orjson.dumps(content)


RETRY_AFTER_S = "2"
RETRY_ADVICE = (
    "not acknowledged: the event may or may not be stored. Retry with the same event_id (or the same "
    "Idempotency-Key) and it lands once"
)


def error(status: int, field: str, rule: str, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return FastJSONResponse({"error": {"field": field, "rule": rule, "message": message}}, status, headers=headers)


def violation(v: Violation, status: int = 422) -> JSONResponse:
    return error(status, v.field, v.rule, v.message)


def unavailable(problem: Violation | None, event_id: str) -> JSONResponse:
    """503 for one event: why, what it means, and the id to retry with."""
    rule = problem.rule if problem else "unavailable"
    if rule == "busy":  # refused before producing: certainly not stored
        message = f"{problem.message if problem else ''}; retry after Retry-After seconds"
    else:
        detail = problem.message if problem else "no answer"
        message = f"Kafka did not acknowledge in time ({detail}); {RETRY_ADVICE}"
    body = {"error": {"field": "(broker)", "rule": rule, "message": message}, "event_id": event_id}
    return FastJSONResponse(body, 503, headers={"Retry-After": RETRY_AFTER_S})


async def http_exception(request: Request, exc: Exception) -> Response:
    """404 and 405 (and any other HTTPException) in the same JSON shape."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error(404, "(path)", "route", f"no route {request.url.path}; see /openapi.json")
    if exc.status_code == 405:
        return error(
            405, "(method)", "method", f"{request.method} is not allowed on {request.url.path}", headers=exc.headers
        )
    return error(exc.status_code, "(request)", "http", str(exc.detail), headers=exc.headers)
