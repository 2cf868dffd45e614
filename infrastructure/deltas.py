"""Token deltas of agent runs: published live on core NATS (never stored in the log nor
the stream), and buffered in Valkey so `complete` can store their concatenation.
"""

from __future__ import annotations

from datetime import UTC, datetime

import redis.asyncio as aioredis
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from domain.conversation import CONTENT_MAX_CHARS
from domain.errors import RuleViolation
from infrastructure.connections import NatsConnection

DELTA_PREFIX = "chronicle.deltas"
BUFFER_TTL_SECONDS = 24 * 3600
JSON = JSONFormat()
# Append a delta unless the answer would grow past what a message may hold: KEYS are the
# buffer and its length in characters; ARGV the text, its characters, the bound and the TTL.
APPEND_BOUNDED = """
local chars = tonumber(redis.call('GET', KEYS[2]) or '0') + tonumber(ARGV[2])
if chars > tonumber(ARGV[3]) then return -1 end
redis.call('SET', KEYS[2], chars, 'EX', ARGV[4])
local length = redis.call('APPEND', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return length
"""


class AnswerTooLong(RuleViolation):
    """The run's streamed answer would be longer than a message may be."""


def delta_subject(tenant: str, run_id: str) -> str:
    return f"{DELTA_PREFIX}.{tenant}.run.{run_id}.agent_delta"


def delta_event(tenant: str, run_id: str, text: str, offset: int) -> bytes:
    """A CloudEvent for a delta; it has no position, so its id names the run and offset."""
    attributes = {
        "id": f"{run_id}:{offset}",
        "source": f"/chronicle/{tenant}/run",
        "type": "chronicle.run.agent_delta",
        "subject": run_id,
        "time": datetime.now(UTC),
        "datacontenttype": "application/json",
        "tenant": tenant,
    }
    return JSON.write(CloudEvent(attributes, {"text": text, "offset": offset}))


class Deltas:
    """Publish a delta live and append it to the run's buffer."""

    def __init__(self, nats: NatsConnection, redis: aioredis.Redis) -> None:
        self.nats = nats
        self.redis = redis
        self._append = redis.register_script(APPEND_BOUNDED)

    @staticmethod
    def _keys(tenant: str, run_id: str) -> list[str]:
        """The buffer and its length in characters."""
        key = f"chronicle:deltas:{tenant}:{run_id}"
        return [key, f"{key}:chars"]

    async def publish(self, tenant: str, run_id: str, text: str) -> int:
        """Returns the buffered length in bytes after this delta; `AnswerTooLong` when
        the answer would pass what one message may hold (the delta is then refused)."""
        arguments: list[bytes | int] = [
            text.encode(),
            len(text),
            CONTENT_MAX_CHARS,
            BUFFER_TTL_SECONDS,
        ]
        length = int(await self._append(keys=self._keys(tenant, run_id), args=arguments))
        if length < 0:
            raise AnswerTooLong(
                f"the run's streamed answer would pass {CONTENT_MAX_CHARS} characters"
            )
        if self.nats.client is not None and self.nats.client.is_connected:
            offset = int(length) - len(text.encode())
            await self.nats.client.publish(
                delta_subject(tenant, run_id), delta_event(tenant, run_id, text, offset)
            )
        return int(length)

    async def buffered(self, tenant: str, run_id: str) -> str:
        raw = await self.redis.get(self._keys(tenant, run_id)[0])
        return raw.decode() if isinstance(raw, bytes) else (raw or "")

    async def discard(self, tenant: str, run_id: str) -> None:
        await self.redis.delete(*self._keys(tenant, run_id))
