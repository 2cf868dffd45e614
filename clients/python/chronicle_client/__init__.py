"""chronicle-client: Chronicle's HTTP API from Python, typed, sync (`Client`) and asyncio
(`AsyncClient`), with retries, idempotency, If-Match, paging, read-your-writes, a resuming
live stream, a task worker and a co-editing document client."""

from chronicle_client.client import AsyncClient, Client
from chronicle_client.core import NO_RETRY, Retry, Tagged
from chronicle_client.errors import (
    ApiError,
    ChronicleError,
    Conflict,
    ConnectionFailed,
    Forbidden,
    IdempotencyKeyReused,
    NotFound,
    PreconditionFailed,
    RateLimited,
    ServerError,
    Unauthenticated,
    Unavailable,
    UnexpectedAnswer,
    ValidationFailed,
)
from chronicle_client.live import LiveEvent

__all__ = [
    "NO_RETRY",
    "ApiError",
    "AsyncClient",
    "ChronicleError",
    "Client",
    "Conflict",
    "ConnectionFailed",
    "Forbidden",
    "IdempotencyKeyReused",
    "LiveEvent",
    "NotFound",
    "PreconditionFailed",
    "RateLimited",
    "Retry",
    "ServerError",
    "Tagged",
    "Unauthenticated",
    "Unavailable",
    "UnexpectedAnswer",
    "ValidationFailed",
]
