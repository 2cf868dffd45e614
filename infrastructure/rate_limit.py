"""Per-key rate limits in Valkey/Redis, shared by every API process: a fixed one-minute
window counted with INCR, the requests of one moment in one script call. Refusals are
counted per key and window, and each window with refusals is handed to exactly one
process to record (a sorted set of windows).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as aioredis
import redis.exceptions

from infrastructure.group_commit import GroupCommit

WINDOW_SECONDS = 60
UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
# Count each request and start its window's clock; the requests of one moment share a call
# (while a call is out, the requests that arrive queue for the next one).
COUNT = """
local counts = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('EXPIRE', key, ARGV[1]) end
  counts[i] = count
end
return counts
"""


class CountScript:
    """Increments counters in Valkey/Redis, a batch in one script call: the `Writer`
    of the group commit that gathers the requests of one moment."""

    def __init__(self, redis: aioredis.Redis, ttl_s: int) -> None:
        self._count = redis.register_script(COUNT)
        self._ttl_s = ttl_s

    async def write(self, counters: Sequence[str]) -> list[int | Exception]:
        counts = await self._count(keys=list(counters), args=[self._ttl_s])
        return [int(count) for count in counts]

    async def aclose(self) -> None:
        """Nothing of its own to release: the client belongs to the application."""


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int
    window_s: int = WINDOW_SECONDS

    def headers(self) -> dict[str, str]:
        values = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_s),
            "RateLimit-Policy": f"{self.limit};w={self.window_s}",
        }
        if not self.allowed:
            values["Retry-After"] = str(self.reset_s)
        return values


class RateLimiter:
    """Counts requests per key per minute; atomic across processes."""

    def __init__(
        self, redis: aioredis.Redis, default_per_minute: int, window_s: int = WINDOW_SECONDS
    ) -> None:
        self.redis = redis
        self.default_per_minute = default_per_minute
        self.window_s = window_s
        self.pending = f"chronicle:rl:pending:{window_s}"  # windows with refusals, by number
        # Unreachable, the requests of the moment fail together: one at a time, each
        # would wait out the client's retries behind the others.
        self._counters: GroupCommit[str, int] = GroupCommit(
            CountScript(redis, window_s * 2), fails_together=UNREACHABLE
        )

    async def hit(self, key_id: str, limit: int | None, *, track_refusals: bool = True) -> Verdict:
        """Count one request of ``key_id``; refusals are kept for `ended_windows` to
        record unless ``track_refusals`` is false."""
        allowed_per_window = limit or self.default_per_minute
        now = time.time()
        window = int(now) // self.window_s
        counter = f"chronicle:rl:{key_id}:{window}"
        count = await self._counters.submit(counter)
        reset = max(1, int((window + 1) * self.window_s - now))
        if count <= allowed_per_window:
            remaining = allowed_per_window - int(count)
            return Verdict(True, allowed_per_window, remaining, reset, self.window_s)
        if not track_refusals:
            return Verdict(False, allowed_per_window, 0, reset, self.window_s)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(f"{counter}:refused")
            pipe.expire(f"{counter}:refused", self.window_s * 10)
            pipe.zadd(self.pending, {f"{key_id}:{window}": window})
            await pipe.execute()
        return Verdict(False, allowed_per_window, 0, reset, self.window_s)

    def close(self) -> None:
        """Count what has queued, then stop counting."""
        self._counters.close()

    async def ended_windows(self) -> list[tuple[str, str, int]]:
        """Windows with refusals that have ended, each claimed by this process only:
        (key id, window start, refused count)."""
        current = int(time.time()) // self.window_s
        members = await self.redis.zrangebyscore(self.pending, "-inf", current - 1)
        claimed = []
        for raw in members:
            member = raw.decode() if isinstance(raw, bytes) else str(raw)
            if await self.redis.zrem(self.pending, member) != 1:
                continue  # another process took it
            key_id, window = member.rsplit(":", 1)
            refused = await self.redis.get(f"chronicle:rl:{key_id}:{window}:refused")
            start = datetime.fromtimestamp(int(window) * self.window_s, UTC).isoformat()
            claimed.append((key_id, start, int(refused or 0)))
        return claimed
