"""Typed exceptions for Chronicle's problem+json answers (RFC 9457): each carries the
problem's fields, and a class per kind of failure a caller handles differently."""

from __future__ import annotations

from typing import Any

import msgspec


class ProblemField(msgspec.Struct, kw_only=True):
    """One invalid field of a request: where it was (``source``), its name, what is wrong."""

    field: str
    message: str
    source: str = "body"


class Problem(msgspec.Struct, kw_only=True):
    """An RFC 9457 problem document as Chronicle answers it."""

    type: str = "about:blank"
    title: str = ""
    status: int = 0
    detail: str | None = None
    errors: list[ProblemField] = msgspec.field(default_factory=list)


class ChronicleError(Exception):
    """Anything the client could not do."""


class ConnectionFailed(ChronicleError):
    """Chronicle could not be reached (after the retries the client makes)."""


class UnexpectedAnswer(ChronicleError):
    """A success answer that does not decode into the operation's schema (a client older
    or newer than the server: regenerate it from the server's OpenAPI document)."""


class ApiError(ChronicleError):
    """Chronicle answered with a problem: its fields are ``type``, ``title``, ``status``,
    ``detail`` and ``errors``; ``headers`` are the answer's, ``body`` its raw JSON."""

    def __init__(self, problem: Problem, headers: dict[str, str], body: Any) -> None:
        super().__init__(f"{problem.status} {problem.title}: {problem.detail or ''}".rstrip(": "))
        self.problem = problem
        self.type, self.title, self.status = problem.type, problem.title, problem.status
        self.detail, self.errors = problem.detail, problem.errors
        self.headers, self.body = headers, body
        self.request_id = headers.get("x-request-id")


class ValidationFailed(ApiError):
    """400, 413, 415: the request is not valid; ``errors`` names each invalid field."""


class Unauthenticated(ApiError):
    """401: no key or token, or one that is unknown, expired or revoked."""


class Forbidden(ApiError):
    """403: the key or token lacks the scope this operation needs."""


class NotFound(ApiError):
    """404: no such resource, or another tenant's."""


class Conflict(ApiError):
    """409: not allowed in the resource's state, or a concurrent write won."""


class PreconditionFailed(Conflict):
    """412: ``If-Match`` named a version that is no longer the current one."""


class IdempotencyKeyReused(Conflict):
    """422: this Idempotency-Key was already used with another request."""


class _Retryable(ApiError):
    def __init__(self, problem: Problem, headers: dict[str, str], body: Any) -> None:
        super().__init__(problem, headers, body)
        self.retry_after = retry_after(headers)


class RateLimited(_Retryable):
    """429: over a rate limit, a budget or a cap; ``retry_after`` is in seconds."""


class Unavailable(_Retryable):
    """503: Chronicle's stores cannot be reached now (raised once retries are spent)."""


class ServerError(ApiError):
    """Any other 5xx."""


BY_STATUS: dict[int, type[ApiError]] = {
    400: ValidationFailed,
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
    413: ValidationFailed,
    415: ValidationFailed,
    422: IdempotencyKeyReused,
    429: RateLimited,
    503: Unavailable,
}


def retry_after(headers: dict[str, str]) -> float | None:
    """The ``Retry-After`` header in seconds (only the delay form is sent by Chronicle)."""
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def api_error(status: int, headers: dict[str, str], content: bytes) -> ApiError:
    """The exception for an error answer (a body that is not problem+json still maps)."""
    body: Any = None
    try:
        body = msgspec.json.decode(content)
        problem = msgspec.convert(body, Problem)
    except (msgspec.DecodeError, msgspec.ValidationError):
        problem = Problem(title=content[:200].decode(errors="replace"), status=status)
    if problem.status != status:
        problem = msgspec.structs.replace(problem, status=status)
    kind = BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    return kind(problem, headers, body)
