"""Token deltas of agent runs: published live on core NATS (never stored in the log nor
the stream), and buffered in Valkey so `complete` can store their concatenation.
"""

from __future__ import annotations

from datetime import UTC, datetime

import redis.asyncio as aioredis
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from infrastructure.bus import NatsConnection

DELTA_PREFIX = "chronicle.deltas"
BUFFER_TTL_SECONDS = 24 * 3600
JSON = JSONFormat()


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

    @staticmethod
    def _key(tenant: str, run_id: str) -> str:
        return f"chronicle:deltas:{tenant}:{run_id}"

    async def publish(self, tenant: str, run_id: str, text: str) -> int:
        """Returns the buffered length after this delta."""
        key = self._key(tenant, run_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.append(key, text.encode())
            pipe.expire(key, BUFFER_TTL_SECONDS)
            length, _ = await pipe.execute()
        if self.nats.client is not None and self.nats.client.is_connected:
            offset = int(length) - len(text.encode())
            await self.nats.client.publish(
                delta_subject(tenant, run_id), delta_event(tenant, run_id, text, offset)
            )
        return int(length)

    async def buffered(self, tenant: str, run_id: str) -> str:
        raw = await self.redis.get(self._key(tenant, run_id))
        return raw.decode() if isinstance(raw, bytes) else (raw or "")

    async def discard(self, tenant: str, run_id: str) -> None:
        await self.redis.delete(self._key(tenant, run_id))
