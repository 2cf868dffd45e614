"""How an HTTP request becomes a command: context, Idempotency-Key, If-Match.

Commands of conversations and runs are awaited on the event loop (their loads run in
worker threads); synchronous use cases run wholly in a worker thread (`in_thread`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
from litestar import Request
from litestar.exceptions import ValidationException
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Response

from application.context import CommandContext, Idempotency, Principal
from application.ports import CommandResult

IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
IF_MATCH = re.compile(r'^(?:W/)?"?(\d{1,18})"?$')


def _invalid_header(name: str, message: str) -> ValidationException:
    return ValidationException(
        detail=f"invalid {name} header",
        extra=[{"key": name, "message": message, "source": "header"}],
    )


def expected_version(request: Request[Any, Any, Any]) -> int | None:
    """The version named by ``If-Match`` (``"3"``, ``W/"3"`` or ``3``); ``*`` means any."""
    raw = request.headers.get("if-match")
    if raw is None or raw.strip() == "*":
        return None
    match = IF_MATCH.fullmatch(raw.strip())
    if match is None:
        raise _invalid_header("If-Match", 'must be a version in quotes, like "3"')
    return int(match.group(1))


def command_of(route_handler: BaseRouteHandler) -> str | None:
    """The command a route runs, declared as ``opt={"command": ...}`` on its decorator;
    audit and rate limiting know commands by these names."""
    command = route_handler.opt.get("command")
    return command if isinstance(command, str) else None


async def command_context(request: Request[Any, Any, Any]) -> CommandContext:
    principal: Principal = request.user
    command = command_of(request.route_handler)
    if command is None:
        raise RuntimeError(f"{request.route_handler} declares no command")
    idempotency = None
    if (key := request.headers.get("idempotency-key")) is not None:
        if not IDEMPOTENCY_KEY.fullmatch(key):
            raise _invalid_header("Idempotency-Key", "must be 1 to 255 visible ASCII characters")
        body = await request.body()
        fingerprint = hashlib.sha256(
            request.method.encode() + b" " + request.url.path.encode() + b"\n" + body
        ).hexdigest()
        idempotency = Idempotency(key, fingerprint)
    traceparent = request.headers.get("traceparent")
    if traceparent is not None and not TRACEPARENT.fullmatch(traceparent):
        traceparent = None
    return CommandContext.for_principal(
        principal,
        command,
        correlation_id=request.headers.get("x-request-id"),  # else the command id
        traceparent=traceparent,
        idempotency=idempotency,
    )


async def run_command(
    request: Request[Any, Any, Any],
    handler: Callable[[CommandContext], Awaitable[CommandResult]],
    render: Callable[[CommandResult], dict[str, Any]],
    status_code: int = 200,
) -> Response[dict[str, Any]]:
    """Await ``handler`` and answer with ``render(result)``.

    A replayed idempotent command answers with the same status and body as the first.
    """
    context = await command_context(request)
    result = await handler(context)
    headers = {"ETag": f'"{result.version}"'}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(render(result), status_code=status_code, headers=headers)


def in_thread(
    handler: Callable[[CommandContext], CommandResult],
) -> Callable[[CommandContext], Awaitable[CommandResult]]:
    """A handler of a synchronous use case, run in a worker thread."""
    return lambda context: anyio.to_thread.run_sync(handler, context)


def version_and_position(result: CommandResult) -> dict[str, Any]:
    return {"version": result.version, "position": result.position}
