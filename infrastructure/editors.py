"""Where the editors of a document stand: each co-editing connection's presence (who,
its cursor, at which revision), kept in Valkey so an editor who arrives on any API
process sees every other, and pushed to the document's followers on core NATS.

An editor's entry lives as long as its connection's presence lease (`LiveLimits`, in
the document's presence set): an entry whose lease has lapsed (its process died) is not
shown, and is dropped by the next reader.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
import redis.asyncio as aioredis

from infrastructure.live_limits import PREFIX, Connection, presence_key
from infrastructure.signals import Signals


class Cursor(msgspec.Struct, forbid_unknown_fields=True):
    """A selection of ``length`` code points from ``index`` (a caret when 0)."""

    index: int
    length: int = 0


class Editor(msgspec.Struct, omit_defaults=True):
    """One co-editing connection as the others see it."""

    client_id: str
    user: str
    revision: int  # the revision its cursor is on
    cursor: Cursor | None = None
    name: str | None = None
    color: str | None = None
    state: str = "here"  # "joined", "here" (moved), "left"


KEEP_S = 24 * 3600


def editors_key(tenant: str, document_id: str) -> str:
    return f"{PREFIX}:editors:{tenant}:{document_id}"


class Editors:
    """The editors of documents, across API processes."""

    def __init__(self, redis: aioredis.Redis, signals: Signals) -> None:
        self._redis = redis
        self._signals = signals

    async def show(self, held: Connection, document_id: str, editor: Editor) -> None:
        """Keep the editor's presence (joined or moved) and tell the document's followers."""
        key = editors_key(held.tenant, document_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, held.member, msgspec.json.encode(editor))
            pipe.expire(key, KEEP_S)  # what a dead process left is dropped by readers
            await pipe.execute()
        await self._signals.editor(held.tenant, document_id, msgspec.to_builtins(editor))

    async def leave(self, held: Connection, document_id: str, editor: Editor) -> None:
        await self._redis.hdel(editors_key(held.tenant, document_id), held.member)
        left = msgspec.structs.replace(editor, state="left", cursor=None)
        await self._signals.editor(held.tenant, document_id, msgspec.to_builtins(left))

    async def present(self, tenant: str, document_id: str) -> list[Editor]:
        """The editors whose connections are held now, on any process."""
        key = editors_key(tenant, document_id)
        live = {
            _text(m)
            for m in await self._redis.zrangebyscore(
                presence_key(tenant, document_id), time.time(), "+inf"
            )
        }
        entries: dict[Any, Any] = await self._redis.hgetall(key)
        lapsed = [member for member in entries if _text(member) not in live]
        if lapsed:
            await self._redis.hdel(key, *lapsed)
        return [
            msgspec.json.decode(raw, type=Editor)
            for member, raw in entries.items()
            if _text(member) in live
        ]


def _text(raw: object) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)
