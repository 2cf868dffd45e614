"""Every error as RFC 9457 problem+json; no stack trace ever leaves the server."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import eventsourcing.persistence
import psycopg
import redis.exceptions
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)

from api.http.fields import plain_message
from api.http.parameters import declared_parameters
from application.errors import (
    BudgetExceeded,
    ConcurrencyConflict,
    DuplicateReceipt,
    Forbidden,
    IdempotencyKeyReused,
    NotFound,
    OwnKeyRevocation,
    PreconditionFailed,
    StoreUnavailable,
    Unauthenticated,
    UsageUnavailable,
)
from domain.errors import InvalidValue, RuleViolation, TaskIsCancelled
from infrastructure.live_limits import LiveConnectionsExceeded
from infrastructure.metrics import RATE_LIMIT_REFUSALS

PROBLEM_BASE = "https://chronicle.dev/problems/"
NAMED_FIELD = re.compile(r"field `([^`]+)`")
MISSING_PARAMETER = re.compile(r"Missing required (\w+) parameter '([^']+)'")
UNAVAILABLE_RETRY_AFTER_S = 1
LIVE_RETRY_AFTER_S = 5
log = structlog.get_logger(__name__)


class Problem(ProblemDetailsException):
    """A problem whose invalid fields are named as the client sent them (``If-Match``,
    ``type``), not by the Python names of the parameters that read them."""

    def to_response(self, request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        errors = self.extra.get("errors") if isinstance(self.extra, dict) else None
        handler = request.scope.get("route_handler")
        if errors and handler is not None:
            names = {p.python_name: p.name for p in declared_parameters(handler)}
            for error in errors:
                error["field"] = names.get(error["field"], error["field"])
            self.detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return super().to_response(request)


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str = "",
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> ProblemDetailsException:
    extra: dict[str, Any] = {"errors": errors} if errors is not None else {}
    return Problem(
        status_code=status,
        type_=PROBLEM_BASE + slug,
        title=title,
        detail=detail,
        extra=extra,
        headers=headers,
    )


def _field_of(item: Mapping[str, Any]) -> str:
    """The invalid field's name; msgspec names missing and unknown fields in its message."""
    key = str(item.get("key") or "")
    if key in ("", "data") and (named := NAMED_FIELD.search(str(item.get("message", "")))):
        return named.group(1)
    return "body" if key in ("", "data") else key


def problem_body(exc: ProblemDetailsException) -> dict[str, Any]:
    """The problem+json document of ``exc`` (for answers sent outside an HTTP response,
    such as a WebSocket frame)."""
    extra = exc.extra if isinstance(exc.extra, Mapping) else {}
    body = {"status": exc.status_code, "type": exc.type_, "title": exc.title, "detail": exc.detail}
    return body | dict(extra)


def problem_of(exc: ValidationException) -> dict[str, Any]:
    """The problem+json document of a refused input."""
    return problem_body(_validation(exc))


def _validation(exc: ValidationException) -> ProblemDetailsException:
    raw = exc.extra if isinstance(exc.extra, list) else []
    errors = [
        {
            "field": _field_of(item),
            "message": plain_message(str(item.get("message", "invalid"))),
            "source": item.get("source", "body"),
        }
        for item in raw
        if isinstance(item, Mapping)
    ]
    if not errors:
        named = MISSING_PARAMETER.search(str(exc.detail))
        field, source = (named.group(2), named.group(1)) if named else ("body", "body")
        errors = [{"field": field, "message": str(exc.detail), "source": source}]
    return problem(
        400,
        "validation-error",
        "The request is not valid",
        "; ".join(f"{e['field']}: {e['message']}" for e in errors),
        errors=errors,
    )


def _http(exc: HTTPException) -> ProblemDetailsException:
    if exc.status_code >= 500:
        # Raised by the framework itself (e.g. a client that disconnected mid-body):
        # worth a line in the log, not a traceback.
        log.warning("request failed", status=exc.status_code, detail=str(exc.detail))
        return problem(exc.status_code, "internal-error", "Internal server error", str(exc.detail))
    slug, title = {
        400: ("bad-request", "Bad request"),
        401: ("unauthenticated", "Authentication required"),
        404: ("not-found", "Not found"),
        405: ("method-not-allowed", "Method not allowed"),
        413: ("payload-too-large", "Request body too large"),
        415: ("unsupported-media-type", "Unsupported media type"),
        429: ("rate-limited", "Too many requests"),
    }.get(exc.status_code, ("http-error", "HTTP error"))
    detail = str(exc.detail)
    errors = (
        [{"field": "body", "message": detail, "source": "body"}] if exc.status_code == 400 else None
    )
    return problem(exc.status_code, slug, title, detail, errors=errors, headers=exc.headers)


def _invalid_value(exc: InvalidValue) -> ProblemDetailsException:
    return problem(
        400,
        "validation-error",
        "The request is not valid",
        str(exc),
        errors=[{"field": exc.field, "message": exc.message, "source": "body"}],
    )


def _budget_exceeded(exc: BudgetExceeded) -> ProblemDetailsException:
    RATE_LIMIT_REFUSALS.labels("daily_budget").inc()
    headers = {"Retry-After": str(exc.retry_after_s)}
    return problem(429, "budget-exceeded", "Daily budget exceeded", str(exc), headers=headers)


def _usage_unavailable(exc: UsageUnavailable) -> ProblemDetailsException:
    headers = {"Retry-After": str(exc.retry_after_s)}
    return problem(503, "usage-unavailable", "Usage cannot be counted", str(exc), headers=headers)


def _unavailable(exc: Exception) -> ProblemDetailsException:
    """The database could not be reached, or could not answer now (a read's connection
    broke, a lock or statement timed out): worth a retry."""
    log.warning("database unavailable", error=str(exc.__cause__ or exc))
    detail = (
        str(exc)
        if isinstance(exc, StoreUnavailable)
        else "the database could not be reached or could not answer now"
    )
    headers = {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)}
    return problem(503, "store-unavailable", "Database unavailable", detail, headers=headers)


def _valkey_unavailable(exc: Exception) -> ProblemDetailsException:
    """Valkey (rate limits, live deltas) could not be reached even after the client's own
    retries: worth a retry, like a database outage."""
    log.warning("valkey unavailable", error=str(exc))
    headers = {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)}
    detail = "the rate-limit store could not be reached; retry"
    return problem(503, "service-unavailable", "Service unavailable", detail, headers=headers)


def _live_connections_exceeded(exc: LiveConnectionsExceeded) -> ProblemDetailsException:
    headers = {"Retry-After": str(LIVE_RETRY_AFTER_S)}
    return problem(
        429, "live-connections-exceeded", "Too many live connections", str(exc), headers=headers
    )


def _internal(exc: Exception) -> ProblemDetailsException:
    log.exception("unhandled error", exc_info=exc)
    return problem(500, "internal-error", "Internal server error", "an unexpected error occurred")


def _simple(status: int, slug: str, title: str) -> Callable[[Exception], ProblemDetailsException]:
    def convert(exc: Exception) -> ProblemDetailsException:
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return problem(status, slug, title, str(exc), headers=headers)

    return convert


PROBLEMS: dict[type[Exception], Callable[[Any], ProblemDetailsException]] = {
    ValidationException: _validation,
    HTTPException: _http,
    InvalidValue: _invalid_value,
    RuleViolation: _simple(409, "rule-violation", "The command is not allowed now"),
    TaskIsCancelled: _simple(409, "task-cancelled", "The task was cancelled"),
    NotFound: _simple(404, "not-found", "Not found"),
    Unauthenticated: _simple(401, "unauthenticated", "Authentication required"),
    Forbidden: _simple(403, "forbidden", "Missing scope"),
    PreconditionFailed: _simple(412, "precondition-failed", "Version mismatch"),
    OwnKeyRevocation: _simple(409, "own-key", "A key cannot revoke itself"),
    BudgetExceeded: _budget_exceeded,
    LiveConnectionsExceeded: _live_connections_exceeded,
    UsageUnavailable: _usage_unavailable,
    StoreUnavailable: _unavailable,
    psycopg.OperationalError: _unavailable,
    psycopg.InterfaceError: _unavailable,
    # The library's pool wraps the driver's errors in its own.
    eventsourcing.persistence.OperationalError: _unavailable,
    eventsourcing.persistence.InterfaceError: _unavailable,
    redis.exceptions.ConnectionError: _valkey_unavailable,
    redis.exceptions.TimeoutError: _valkey_unavailable,
    ConcurrencyConflict: _simple(409, "conflict", "Concurrent modification"),
    DuplicateReceipt: _simple(409, "conflict", "Concurrent duplicate request"),
    IdempotencyKeyReused: _simple(
        422, "idempotency-key-reused", "Idempotency-Key reused with another request"
    ),
    Exception: _internal,
}


def problem_for(exc: Exception) -> ProblemDetailsException:
    """The problem an exception is answered with (its nearest class in `PROBLEMS`)."""
    for kind in type(exc).__mro__:
        if convert := PROBLEMS.get(kind):
            return convert(exc)
    return _internal(exc)


def problem_details_plugin() -> ProblemDetailsPlugin:
    return ProblemDetailsPlugin(ProblemDetailsConfig(exception_to_problem_detail_map=PROBLEMS))
