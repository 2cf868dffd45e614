"""How an HTTP request becomes a command: its context (from the principal and the
``Idempotency-Key``, ``X-Request-ID`` and ``traceparent`` headers), ``If-Match``, and the
answer (``ETag``, ``Location``, the replay of an idempotent retry).

The headers are parameters of dependencies, so Litestar validates them and the OpenAPI
document declares them on every command that takes them.
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Any, TypeVar
from uuid import UUID

import msgspec
from litestar import Request
from litestar.di import Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.params import HeaderParameter
from litestar.response import Response

from application.context import CommandContext, Idempotency, Principal
from application.ports import CommandResult

T = TypeVar("T")
TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
IF_MATCH_PATTERN = r'^(?:\*|(?:W/)?"?[0-9]{1,18}"?)$'
IF_MATCH = re.compile(r'^(?:W/)?"?([0-9]{1,18})"?$')

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        pattern=r"^[\x21-\x7e]{1,255}$",
        description="Makes the command safe to retry: a retry with the same key and body"
        " replays the first answer and writes nothing; the same key with another body is 422.",
        required=False,
    ),
]
RequestId = Annotated[
    str | None,
    HeaderParameter(
        name="X-Request-ID",
        pattern=r"^[\x21-\x7e]{1,200}$",
        description="Your id for this request, kept as the correlation id of its events.",
        required=False,
    ),
]
TraceParent = Annotated[
    str | None,
    HeaderParameter(
        name="traceparent",
        max_length=512,
        description="W3C trace context, kept with the events (ignored when malformed).",
        required=False,
    ),
]
IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        pattern=IF_MATCH_PATTERN,
        description='Only if the current version is this one ("3", W/"3" or 3); 412 if not.',
        required=False,
    ),
]


def command_of(route_handler: BaseRouteHandler) -> str | None:
    """The command a route runs, declared as ``opt={"command": ...}`` on its decorator;
    audit and rate limiting know commands by these names."""
    command = route_handler.opt.get("command")
    return command if isinstance(command, str) else None


async def provide_context(
    request: Request[Principal, Any, Any],
    idempotency_key: IdempotencyKey = None,
    request_id: RequestId = None,
    traceparent: TraceParent = None,
) -> CommandContext:
    """The context of the command a route runs (its events' metadata)."""
    command = command_of(request.route_handler)
    if command is None:
        raise RuntimeError(f"{request.route_handler} declares no command")
    idempotency = None
    if idempotency_key is not None:
        body = await request.body()
        fingerprint = hashlib.sha256(
            request.method.encode() + b" " + request.url.path.encode() + b"\n" + body
        ).hexdigest()
        idempotency = Idempotency(idempotency_key, fingerprint)
    if traceparent is not None and not TRACEPARENT.fullmatch(traceparent):
        traceparent = None
    return CommandContext.for_principal(
        request.user,
        command,
        correlation_id=request_id,  # else the command id
        traceparent=traceparent,
        idempotency=idempotency,
    )


async def provide_expected_version(if_match: IfMatch = None) -> int | None:
    """The version named by ``If-Match``; ``*`` (or none) means any."""
    match = IF_MATCH.fullmatch(if_match) if if_match is not None else None
    return int(match.group(1)) if match else None


COMMAND_DEPENDENCIES = {
    "context": Provide(provide_context),
    "expected_version": Provide(provide_expected_version),
}


class Changed(msgspec.Struct):
    """The aggregate's new version and the position of the last event written."""

    version: int
    position: int

    @classmethod
    def of(cls, result: CommandResult) -> Changed:
        return cls(result.version, result.position)


class Created(msgspec.Struct):
    """A new aggregate: its id, version and the position of its last event."""

    id: UUID
    version: int
    position: int

    @classmethod
    def of(cls, result: CommandResult) -> Created:
        return cls(result.id, result.version, result.position)


def answer(
    body: T, result: CommandResult, *, status_code: int = 200, location: str | None = None
) -> Response[T]:
    """A command's answer: ``body``, the subject's version as ``ETag`` and, for a created
    resource, its ``Location``. A replayed idempotent command answers as the first did."""
    headers = {"ETag": f'"{result.version}"'}
    if location is not None:
        headers["Location"] = location
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(body, status_code=status_code, headers=headers)
