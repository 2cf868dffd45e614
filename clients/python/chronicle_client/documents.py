"""A Python client for one shared document, over Chronicle's co-editing socket
(``/v1/documents/{id}/ws``): it keeps ShareDB's client state, so its edits show at once
and every editor converges on the server's text.

- ``inflight``: the op sent and not yet acknowledged (one at a time);
- ``buffer``: the edits made since, composed into one op, sent once ``inflight`` is
  acknowledged;
- an op from another editor is transformed against both before it is applied here, and
  they against it (the server transforms late ops the same way: ``left`` for the later).

It takes frames in batches (``?batch=1``): a message may be a JSON array of frames, taken
in order, as one.

After a lost connection, `reconnect` resumes from the last revision it had, with the same
client id: its own op, if the server had applied it, comes back acknowledged; if not, it
is sent again with the same ``seq`` and applied once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from chronicle_client import text_ot
from chronicle_client.text_ot import Op, Selection


class EditRefused(Exception):
    """The server refused an op (its problem+json is ``problem``); the editor must load
    the document again."""

    def __init__(self, problem: dict[str, Any]) -> None:
        super().__init__(problem.get("detail") or problem.get("title"))
        self.problem = problem


@dataclass
class Pending:
    seq: int
    op: Op


class DocumentEditor:
    """One editor of one document."""

    def __init__(
        self,
        base_url: str,
        document_id: str,
        *,
        token: str | None = None,
        key: str | None = None,
        client_id: str | None = None,
    ) -> None:
        self.url = base_url.replace("http", "ws", 1) + f"/v1/documents/{document_id}/ws"
        self.token, self.key = token, key
        self.client_id = client_id or uuid.uuid4().hex
        self.revision = -1  # none yet: the first connection loads the content
        self.content = ""
        self.title = ""
        self.inflight: Pending | None = None
        self.buffer: Op | None = None
        # client id -> presence (its cursor where it stands at `revision`; no revision of its own)
        self.others: dict[str, dict[str, Any]] = {}
        self.refused: EditRefused | None = None
        self.errors: list[dict[str, Any]] = []  # every problem the server answered a frame with
        self.archived = False
        self._seq = 0
        self._socket: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Condition()

    async def connect(self) -> None:
        """Open the socket and wait for the document (or, resuming, for the server to
        have taken the client back); an unacknowledged op is sent again."""
        query: dict[str, Any] = {"client_id": self.client_id, "batch": 1}
        if self.revision >= 0:
            query["revision"] = self.revision
        if self.token:
            query["token"] = self.token
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else None
        self._socket = await connect(
            f"{self.url}?{urlencode(query)}", additional_headers=headers, max_size=2**24
        )
        welcome = json.loads(await self._socket.recv())
        if welcome.get("type") != "welcome":
            await self._socket.close()
            raise EditRefused(welcome)
        self.title = welcome["title"]
        if welcome.get("content") is not None:  # a fresh start: nothing of ours is pending
            self.content, self.revision = welcome["content"], welcome["revision"]
            self.inflight = self.buffer = None
        self.others = {p["client_id"]: _without_revision(p) for p in welcome["presence"]}
        self._reader = asyncio.ensure_future(self._read(self._socket))
        if self.inflight is not None:
            await self._send_op(self.inflight)

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await self._reader

    async def drop(self) -> None:
        """Lose the connection abruptly, as a network failure would (for tests)."""
        if self._socket is not None:
            self._socket.transport.abort()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await self._reader

    async def reconnect(self) -> None:
        await self.close()
        await self.connect()

    async def edit(self, op: Op) -> None:
        """Apply an op to the local text now and send it (or keep it for after the
        inflight one)."""
        self.content = text_ot.apply(self.content, op)
        self.buffer = op if self.buffer is None else text_ot.compose(self.buffer, op)
        await self._flush()

    async def insert(self, index: int, text: str) -> None:
        op: Op = [index, text] if index else [text]
        await self.edit(op)

    async def delete(self, index: int, count: int) -> None:
        op: Op = [index, {"d": count}] if index else [{"d": count}]
        await self.edit(op)

    async def move(self, index: int, length: int = 0, **details: Any) -> None:
        """Show this editor's cursor to the others (once its edits are acknowledged, so
        the cursor is on a revision the server has)."""
        await self.synced()
        assert self._socket is not None
        presence = {"cursor": {"index": index, "length": length}, **details}
        frame = {"presence": presence, "revision": self.revision}
        await self._socket.send(json.dumps(frame))

    async def synced(self) -> None:
        """Wait until every edit made here is acknowledged."""
        await self.until(lambda: self.inflight is None and self.buffer is None)

    async def until(self, condition: Any) -> None:
        """Wait until ``condition()`` holds (checked as frames arrive); an op the server
        refused raises `EditRefused`. (Bound the wait with ``asyncio.timeout``.)"""
        async with self._changed:
            while not condition():
                if self.refused is not None:
                    raise self.refused
                await self._changed.wait()

    def cursor_of(self, client_id: str) -> Selection | None:
        """Another editor's cursor, in the local text (moved through the pending edits)."""
        presence = self.others.get(client_id)
        if presence is None or presence.get("cursor") is None:
            return None
        selection: Selection = {
            "index": presence["cursor"]["index"],
            "length": presence["cursor"].get("length", 0),
        }
        for pending in (self.inflight.op if self.inflight else None, self.buffer):
            if pending is not None:
                selection = text_ot.transform_selection(selection, pending)
        return selection

    async def _flush(self) -> None:
        if self.inflight is not None or self.buffer is None or self._socket is None:
            return
        self._seq += 1
        self.inflight, self.buffer = Pending(self._seq, self.buffer), None
        await self._send_op(self.inflight)

    async def _send_op(self, pending: Pending) -> None:
        assert self._socket is not None
        frame = {"op": pending.op, "base_revision": self.revision, "seq": pending.seq}
        with contextlib.suppress(ConnectionClosed):  # sent again after a reconnect
            await self._socket.send(json.dumps(frame))

    async def _read(self, socket: ClientConnection) -> None:
        async for raw in socket:
            message = json.loads(raw)
            async with self._changed:
                await self._message(message if isinstance(message, list) else [message])
                self._changed.notify_all()

    async def _message(self, frames: list[dict[str, Any]]) -> None:
        """Take the frames of one message, in order."""
        for frame in frames:
            await self._take(frame)

    async def _take(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "op":
            self._remote(frame["op"], frame["revision"], frame.get("source", ""))
        elif kind == "ack" and self.inflight is not None and frame["seq"] == self.inflight.seq:
            self._move_others(self.inflight.op, frame["revision"], self.client_id)
            self.inflight = None
            await self._flush()
        elif kind == "presence":
            if frame.get("state") == "left":
                self.others.pop(frame["client_id"], None)
            else:
                self.others[frame["client_id"]] = _without_revision(frame)
        elif kind == "error":
            self.errors.append(frame["problem"])
            if self.inflight is not None and frame.get("seq") == self.inflight.seq:
                self.refused = EditRefused(frame["problem"])
        elif kind == "renamed":
            self.title = frame["title"]
        elif kind == "archived":
            self.archived = True

    def _remote(self, op: Op, revision: int, source: str) -> None:
        """Apply another editor's op, transformed past the edits not acknowledged yet."""
        applied = op
        if self.inflight is not None:
            self.inflight.op, applied = (
                text_ot.transform(self.inflight.op, applied, "left"),
                text_ot.transform(applied, self.inflight.op, "right"),
            )
        if self.buffer is not None:
            self.buffer, applied = (
                text_ot.transform(self.buffer, applied, "left"),
                text_ot.transform(applied, self.buffer, "right"),
            )
        self.content = text_ot.apply(self.content, applied)
        self._move_others(op, revision, source)

    def _move_others(self, op: Op, revision: int, source: str) -> None:
        """Others' cursors follow the server's text: moved by each op it applies (to the
        end of what it inserted, for the editor who made it)."""
        self.revision = revision
        for presence in self.others.values():
            if (cursor := presence.get("cursor")) is None:
                continue
            moved = text_ot.transform_selection(
                {"index": cursor["index"], "length": cursor.get("length", 0)},
                op,
                source == presence["client_id"],
            )
            presence["cursor"] = dict(moved)


def _without_revision(presence: dict[str, Any]) -> dict[str, Any]:
    """A presence as kept here: its cursor moves with the editor's own revision."""
    return {k: v for k, v in presence.items() if k != "revision"}
