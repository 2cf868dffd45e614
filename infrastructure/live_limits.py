"""Caps on concurrent live connections per tenant, per API key and per user, shared by
every API process through Valkey; each tenant's live statistics; and presence, which is
a user's live connection to a conversation its token names.

A connection is a member of sorted sets (its tenant's, its key's or its user's, and a
user's in each conversation it is present in), scored by when its lease ends. The
process holding it renews the leases every `RENEW_S`, so the connections of a process
that died lapse within `LEASE_S`. Admission is one script: drop lapsed members, refuse if
any set is at its cap, else join them all.
Deliveries and resyncs are counted in the process and added to the tenant's hash at each
renewal, so a delivery costs no round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import redis.asyncio as aioredis
import redis.exceptions
import structlog

from infrastructure.metrics import LIVE_REFUSED

LEASE_S = 30.0
RENEW_S = 5.0
PREFIX = "chronicle:live"
log = structlog.get_logger(__name__)

# KEYS: the sets; ARGV: now, lease end, member, then each set's cap (0: none).
ADMIT = """
local now = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local cap = tonumber(ARGV[3 + i])
  if cap > 0 and redis.call('ZCARD', key) >= cap then return i end
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, ARGV[2], ARGV[3])
  redis.call('EXPIREAT', key, math.ceil(tonumber(ARGV[2])) + 1)
end
return 0
"""


def presence_key(tenant: str, aggregate_id: str) -> str:
    """The set of the connections present in a conversation or a document."""
    return f"{PREFIX}:presence:{tenant}:{aggregate_id}"


def _text(raw: object) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


class LiveConnectionsExceeded(Exception):
    """A live connection over one of its caps."""

    def __init__(self, scope: str, cap: int) -> None:
        super().__init__(f"at most {cap} live connections per {scope}; close one and retry")
        self.scope = scope
        self.cap = cap


@dataclass(frozen=True)
class Caps:
    """Concurrent live connections allowed, and inbound WebSocket frames a second a
    connection may send; 0 is no cap."""

    per_tenant: int = 0
    per_key: int = 0
    per_user: int = 0
    frames_per_second: int = 0


@dataclass(frozen=True)
class Connection:
    """An admitted live connection: its sets and its member in them."""

    tenant: str
    sets: tuple[str, ...]
    member: str


@dataclass
class LiveStats:
    """A tenant's live figures: connections by transport and by user, events delivered,
    resyncs (slow clients dropped)."""

    by_transport: dict[str, int] = field(default_factory=dict)
    by_user: dict[str, int] = field(default_factory=dict)
    delivered: int = 0
    resyncs: int = 0

    @property
    def connections(self) -> int:
        return sum(self.by_transport.values())


class LiveLimits:
    """Admits, renews and releases live connections; counts what they deliver."""

    def __init__(self, redis: aioredis.Redis, caps: Caps, lease_s: float = LEASE_S) -> None:
        self.caps = caps
        self._lease_s = lease_s
        self._redis = redis
        self._admit = redis.register_script(ADMIT)
        self._held: dict[str, Connection] = {}
        self._counts: Counter[tuple[str, str]] = Counter()
        self._renewer: asyncio.Task[None] | None = None

    async def admit(
        self,
        tenant: str,
        key_id: str | None,
        user_id: str | None,
        transport: str,
        present_in: Iterable[str] = (),
    ) -> Connection:
        """Hold a connection, or raise `LiveConnectionsExceeded` naming the cap. The
        connection is also present in the conversations or documents ``present_in``."""
        caps = [("tenant", f"{PREFIX}:tenant:{tenant}", self.caps.per_tenant)]
        caps += [("presence", presence_key(tenant, c), 0) for c in sorted(present_in)]
        if user_id is not None:
            caps.append(("user", f"{PREFIX}:user:{tenant}:{user_id}", self.caps.per_user))
        elif key_id is not None:
            caps.append(("API key", f"{PREFIX}:key:{tenant}:{key_id}", self.caps.per_key))
        member = f"{transport}|{user_id or ''}|{uuid.uuid4().hex}"
        now = time.time()
        refused = int(
            await self._admit(
                keys=[key for _, key, _ in caps],
                args=[now, now + self._lease_s, member, *(cap for _, _, cap in caps)],
            )
        )
        if refused:
            scope, _, cap = caps[refused - 1]  # a presence set has no cap
            LIVE_REFUSED.labels(scope.replace(" ", "_").lower()).inc()
            raise LiveConnectionsExceeded(scope, cap)
        connection = Connection(tenant, tuple(key for _, key, _ in caps), member)
        self._held[member] = connection
        self._start_renewing()
        return connection

    async def release(self, connection: Connection) -> bool:
        """Let a connection go; False if it was let go already."""
        if self._held.pop(connection.member, None) is None:
            return False
        with contextlib.suppress(Exception):  # its lease lapses anyway
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in connection.sets:
                    pipe.zrem(key, connection.member)
                await pipe.execute()
        return True

    def held(self) -> Counter[str]:
        """The live connections this process holds now, by transport."""
        return Counter(member.split("|", 1)[0] for member in self._held)

    def delivered(self, tenant: str, count: int = 1) -> None:
        self._counts[tenant, "delivered"] += count

    def resynced(self, tenant: str) -> None:
        self._counts[tenant, "resyncs"] += 1

    async def present(self, tenant: str, conversation_id: str) -> dict[str, int]:
        """The users present in a conversation now, across every API process, with how
        many live connections each holds there."""
        members = await self._redis.zrangebyscore(
            presence_key(tenant, conversation_id), time.time(), "+inf"
        )
        users: dict[str, int] = {}
        for raw in members:
            _, user, _ = _text(raw).split("|", 2)
            users[user] = users.get(user, 0) + 1
        return users

    async def stats(self, tenant: str) -> LiveStats:
        """A tenant's figures, across every API process (deliveries as of the last
        renewal of each, at most `RENEW_S` ago)."""
        await self.renew()
        now = time.time()
        members = await self._redis.zrangebyscore(f"{PREFIX}:tenant:{tenant}", now, "+inf")
        totals = await self._redis.hgetall(f"{PREFIX}:stats:{tenant}")
        stats = LiveStats(
            delivered=int(totals.get(b"delivered", 0)), resyncs=int(totals.get(b"resyncs", 0))
        )
        for raw in members:
            transport, user, _ = _text(raw).split("|", 2)
            stats.by_transport[transport] = stats.by_transport.get(transport, 0) + 1
            if user:
                stats.by_user[user] = stats.by_user.get(user, 0) + 1
        return stats

    async def renew(self) -> None:
        """Extend the leases of the connections held here; add up what they delivered."""
        counts, self._counts = self._counts, Counter()
        end = time.time() + self._lease_s
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for connection in list(self._held.values()):
                    for key in connection.sets:
                        pipe.zadd(key, {connection.member: end}, xx=True)
                        pipe.expireat(key, int(end) + 1)
                for (tenant, name), count in counts.items():
                    pipe.hincrby(f"{PREFIX}:stats:{tenant}", name, count)
                await pipe.execute()
        except (redis.exceptions.RedisError, OSError):
            self._counts.update(counts)  # added at the next renewal
            raise

    def _start_renewing(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.get_running_loop().create_task(self._renew_every())

    async def _renew_every(self) -> None:
        while True:
            await asyncio.sleep(RENEW_S)
            try:
                await self.renew()
            except Exception as error:  # the next renewal comes before any lease lapses
                log.warning("could not renew live connections", error=str(error))

    async def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
