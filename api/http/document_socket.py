"""The co-editing socket of a document: ``GET /v1/documents/{id}/ws``.

The server first sends ``welcome`` (the client's id, the revision, content and title,
and where the other editors stand), then every op committed to the document in order:
another's as ``op``, the client's own as ``ack``, each once, and the editors' presence
as they join, move and leave. The client sends ``{"op", "base_revision", "seq"}`` (one
at a time: the next once the previous is acknowledged, as ShareDB's clients do) and
``{"presence": {"cursor", "name", "color"}}``.

A client that connects with ``?batch=1`` may be sent several frames in one message, as a
JSON array of them in order: a client that is behind (or a burst of ops committed
together) then costs one message, not one per op. Without it, each message is one frame.

A client that reconnects with its ``client_id`` and ``?revision=N`` (the last it had)
gets the ops after N instead of the content, its own among them acknowledged, and may
resend an unacknowledged op with the same ``seq``: it is applied once (its idempotency
key is the client's id and the seq). Cursors are moved on the server through the ops
between the revision an editor set them on and the one this client is at.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import re
import time
import uuid
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

import msgspec
import structlog
from litestar import WebSocket, websocket
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException, WebSocketDisconnect
from litestar.params import FromPath

from api.http.auth import TOKEN_IN_URL, requires
from api.http.bodies import decode_body, invalid
from api.http.documents import OpBody, WholeNumber, author_of, op_of, reachable
from api.http.problems import problem_body, problem_for, problem_of
from api.http.subscriptions import (
    POLICY_VIOLATION,
    RESYNC_CLOSE_CODE,
    TRY_AGAIN_LATER,
)
from application.context import CommandContext, Principal
from application.documents import Documents
from application.errors import Forbidden, NotFound
from domain import text_ot
from domain.text_ot import Op
from infrastructure.editors import Cursor, Editor, Editors
from infrastructure.live_hub import Filter, LiveEvent, LiveHub, Subscriber
from infrastructure.live_limits import Connection, LiveConnectionsExceeded, LiveLimits
from infrastructure.live_rooms import LiveRooms, Member
from infrastructure.metrics import LIVE_REFUSED

log = structlog.get_logger(__name__)
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
RECENT_OPS = 1000  # ops kept to move other editors' cursors to this client's revision
CATCH_UP_PAGE = 500
FOLLOWED = ("OperationApplied", "DocumentRenamed", "DocumentArchived")  # editors' moves aside
PRESENCE = 1000  # editors' moves held for a client before it is let go
NAME_MAX_CHARS = 100
COLOR = r"^#?[A-Za-z0-9]{1,32}$"
SUBMIT = "document.submit_op"


class PresenceIn(msgspec.Struct, forbid_unknown_fields=True):
    cursor: Cursor | None = None
    name: Annotated[str, msgspec.Meta(max_length=NAME_MAX_CHARS, pattern=r"^[^\x00]*$")] | None = (
        None
    )
    color: Annotated[str, msgspec.Meta(pattern=COLOR)] | None = None


class Frame(msgspec.Struct, forbid_unknown_fields=True):
    """What a client sends: an op, or its presence (on the revision it names, else the
    last it was sent)."""

    op: OpBody | None = None
    base_revision: WholeNumber | None = None
    seq: WholeNumber = 0
    presence: PresenceIn | None = None
    revision: WholeNumber | None = None


class Welcome(msgspec.Struct):
    client_id: str
    revision: int
    title: str
    presence: list[Editor]
    content: str | None = None
    type: str = "welcome"


@dataclass(frozen=True)
class Options:
    """What the client asked for in the query: its id (its own, to resume, or a new
    one), the revision it resumes after, and whether it takes frames in batches."""

    client_id: str
    resume: int | None
    batched: bool


def _options(socket: WebSocket[Principal, Any, Any]) -> Options:
    query = socket.query_params
    client_id = query.get("client_id") or uuid.uuid4().hex
    if not CLIENT_ID.fullmatch(client_id):
        raise invalid("client_id", "must be 1 to 64 of letters, digits, '_' or '-'", "query")
    batch = query.get("batch", "0")
    if batch not in ("0", "1"):
        raise invalid("batch", "must be 0 or 1", "query")
    raw = query.get("revision")
    if raw is None:
        return Options(client_id, None, batch == "1")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise invalid("revision", "must be a whole number", "query")
    return Options(client_id, int(raw), batch == "1")


@websocket(
    "/v1/documents/{document_id:uuid}/ws",
    guards=[requires("commands:write", user="documents:write")],
    opt={TOKEN_IN_URL: True},
)
async def document_socket(
    socket: WebSocket[Principal, Any, Any],
    document_id: FromPath[UUID],
    documents: NamedDependency[Documents],
    hub: NamedDependency[LiveHub],
    rooms: NamedDependency[LiveRooms],
    live_limits: NamedDependency[LiveLimits],
    editors: NamedDependency[Editors],
) -> None:
    """Co-edit one document (protocol in the module's docstring). Refusals are a
    problem+json frame and a close: 1008 for a bad query, a document this token does not
    name or that does not exist; 1013 over a cap on live connections."""
    await socket.accept()
    principal = socket.user
    try:
        options = _options(socket)
        tenant = reachable(principal, document_id)
    except (ValidationException, Forbidden, NotFound) as error:
        await _refuse(socket, error, POLICY_VIOLATION)
        return
    # The document's room hands over every event committed from here on, so the state
    # read next misses none (one it has as well is told apart by its revision).
    filters = tuple(Filter("document", str(document_id), kind) for kind in FOLLOWED)
    async with rooms.joined(tenant, filters, hub.buffer) as member:
        try:
            state = await asyncio.to_thread(documents.at, tenant, document_id)
            if options.resume is not None and options.resume > state.revision:
                raise invalid("revision", f"the document is at revision {state.revision}", "query")
        except (ValidationException, Forbidden, NotFound) as error:
            await _refuse(socket, error, POLICY_VIOLATION)
            return
        key = None if principal.user_id is not None else principal.key_id
        try:
            held = await live_limits.admit(
                tenant, key, principal.user_id, "document", [str(document_id)]
            )
        except LiveConnectionsExceeded as error:
            await _refuse(socket, error, TRY_AGAIN_LATER)
            return
        session = CoEditing(
            socket,
            documents,
            editors,
            held,
            document_id,
            options,
            live_limits.caps.frames_per_second,
        )
        try:
            await session.run(hub, member, state.revision, state.title, state.content)
        finally:
            await live_limits.release(held)


async def _refuse(socket: WebSocket[Principal, Any, Any], error: Exception, code: int) -> None:
    body = problem_of(error) if isinstance(error, ValidationException) else _problem(error)
    await socket.send_data(msgspec.json.encode(body).decode(), mode="text")
    await socket.close(code=code)


class CoEditing:
    """One client's co-editing session. Frames are queued (`_queue`) in the order they
    are made and sent by `_flush`, as one message each or, to a client that takes them in
    batches, all that are queued in one."""

    def __init__(
        self,
        socket: WebSocket[Principal, Any, Any],
        documents: Documents,
        editors: Editors,
        held: Connection,
        document_id: UUID,
        options: Options,
        frames_per_second: int,
    ) -> None:
        self.socket = socket
        self.frames_per_second = frames_per_second
        self.principal = socket.user
        self.documents = documents
        self.editors = editors
        self.held = held
        self.document_id = document_id
        self.tenant = held.tenant
        self.client_id = options.client_id
        self.resume = options.resume
        self.batched = options.batched
        self.author = author_of(self.principal, None)
        self.sent = 0  # the revision of the last op sent: the client's revision
        self.recent: collections.deque[tuple[int, Op, str]] = collections.deque(maxlen=RECENT_OPS)
        self.waiting: dict[str, Editor] = {}  # cursors on revisions not sent yet
        self.me = Editor(self.client_id, self.author, 0, state="joined")
        self._outbox: list[str] = []
        self._sending = asyncio.Lock()

    async def run(
        self, hub: LiveHub, member: Member, revision: int, title: str, content: str
    ) -> None:
        # Editors' presence is followed before it is read, so none falls between the two.
        presence = (Filter("document", str(self.document_id), "presence"),)
        moves = hub.register(self.tenant, presence, PRESENCE)
        try:
            others = await self.editors.present(self.tenant, str(self.document_id))
            if self.resume is None:
                self.sent = revision
                await self._recall([e.revision for e in others if e.cursor is not None])
                present = [self._placed(e) for e in others if self._settled(e)]
                await self._send(Welcome(self.client_id, revision, title, present, content))
            else:
                self.sent = self.resume
                await self._send(Welcome(self.client_id, self.resume, title, []))
                await self._catch_up(revision)
                for editor in others:
                    self._presence(editor)
                await self._flush()
            await self._follow(member, moves)
        finally:
            hub.unregister(moves)

    async def _recall(self, revisions: list[int]) -> None:
        """Keep the ops since the earliest of ``revisions`` (up to the client's), to move
        the cursors set on them."""
        earliest = max(min(revisions, default=self.sent), self.sent - RECENT_OPS)
        if earliest < self.sent:
            ops = await asyncio.to_thread(
                self.documents.operations,
                self.tenant,
                self.document_id,
                earliest,
                self.sent - earliest,
            )
            self.recent.extend((o.revision, o.op, o.source) for o in ops if o.revision <= self.sent)

    async def _follow(self, member: Member, moves: Subscriber) -> None:
        """Join the editors, then forward the document's events and editors' moves and
        take the client's frames, until one of them ends."""
        self.me = Editor(self.client_id, self.author, self.sent, state="joined")
        await self.editors.show(self.held, str(self.document_id), self.me)
        tasks = [
            asyncio.ensure_future(self._read()),
            asyncio.ensure_future(self._forward(member)),
            asyncio.ensure_future(self._moves(moves)),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            with contextlib.suppress(Exception):  # the lease lapses; readers drop it
                await self.editors.leave(self.held, str(self.document_id), self.me)

    async def _moves(self, moves: Subscriber) -> None:
        """Forward the other editors' presence (a client too slow for them is let go)."""
        while (item := await moves.buffer.get()) is not None:
            if item.ephemeral and item.type == "presence":
                data = msgspec.json.decode(item.payload)["data"]
                self._presence(msgspec.convert(data, Editor))
                await self._flush()

    async def _catch_up(self, head: int) -> None:
        """Send the ops after the client's revision up to ``head``, from the log."""
        while self.sent < head:
            page = await asyncio.to_thread(
                self.documents.operations,
                self.tenant,
                self.document_id,
                self.sent,
                CATCH_UP_PAGE,
            )
            for applied in page:
                self._applied(applied.revision, applied.op, applied.author, applied.source,
                              applied.seq)  # fmt: skip
            await self._flush()
            if not page:
                return

    async def _forward(self, member: Member) -> None:
        """Send what the document's room hands over, all that waits at once, until the
        client falls too far behind (told to resync)."""
        with contextlib.suppress(WebSocketDisconnect):
            while (events := await member.take()) is not None:
                for event in events:
                    self._event(event)
                await self._flush()
            await self._send({"type": "resync", "revision": self.sent})
            await self.socket.close(code=RESYNC_CLOSE_CODE)

    def _event(self, item: LiveEvent) -> None:
        data = _data_of(item.payload)
        if item.type == "OperationApplied":
            self._applied(
                data["revision"], data["op"], data["author"], data.get("source", ""),
                data.get("seq", 0), _op_frame(item.payload),
            )  # fmt: skip
        elif item.type == "DocumentRenamed":
            self._queue({"type": "renamed", "title": data["title"]})
        elif item.type == "DocumentArchived":
            self._queue({"type": "archived"})

    def _applied(
        self, revision: int, op: Op, author: str, source: str, seq: int, frame: str | None = None
    ) -> None:
        """Queue an op (``frame``: its frame, encoded once for every editor), or its ack."""
        if revision <= self.sent:
            return  # queued already (the catch-up and the live stream overlap)
        self.sent = revision
        self.recent.append((revision, op, source))
        if source == self.client_id and author == self.author:
            self._queue({"type": "ack", "revision": revision, "seq": seq})
        else:
            self._queue(frame or _encoded_op(revision, op, author, source))
        if self.waiting:
            for client_id, editor in list(self.waiting.items()):
                if editor.revision <= self.sent:
                    del self.waiting[client_id]
                    self._queue_presence(editor)

    def _presence(self, editor: Editor) -> None:
        if editor.client_id == self.client_id:
            return
        if editor.state == "left":
            self.waiting.pop(editor.client_id, None)
            self._queue_presence(editor)
        elif editor.revision > self.sent:
            self.waiting[editor.client_id] = editor  # sent once this client is there too
        else:
            self._queue_presence(editor)

    def _queue_presence(self, editor: Editor) -> None:
        placed = self._placed(editor)
        self._queue({"type": "presence", **msgspec.to_builtins(placed)})

    def _settled(self, editor: Editor) -> bool:
        """Whether an editor's cursor is on a revision this client has (else it waits)."""
        if editor.revision > self.sent:
            self.waiting[editor.client_id] = editor
            return False
        return True

    def _placed(self, editor: Editor) -> Editor:
        """The editor with its cursor moved through the ops since its revision, onto the
        client's (no cursor when those ops are no longer at hand)."""
        if editor.cursor is None or editor.revision == self.sent:
            return msgspec.structs.replace(editor, revision=self.sent)
        since = [(op, source) for revision, op, source in self.recent if revision > editor.revision]
        if len(since) != self.sent - editor.revision:
            return msgspec.structs.replace(editor, revision=self.sent, cursor=None)
        selection: text_ot.Selection = {
            "index": editor.cursor.index,
            "length": editor.cursor.length,
        }
        for op, source in since:
            selection = text_ot.transform_selection(selection, op, source == editor.client_id)
        moved = Cursor(selection["index"], selection["length"])
        return msgspec.structs.replace(editor, revision=self.sent, cursor=moved)

    async def _read(self) -> None:
        """Take the client's frames until it goes, or sends faster than its cap allows."""
        window, count = 0, 0
        per_second = self.frames_per_second
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                raw = await self.socket.receive_data(mode="text")
                now = int(time.monotonic())
                window, count = (window, count + 1) if now == window else (now, 1)
                if per_second and count > per_second:
                    LIVE_REFUSED.labels("frames").inc()
                    await self.socket.close(code=POLICY_VIOLATION, reason="frames too fast")
                    return
                try:
                    frame = decode_body(raw, Frame)
                    await self._take(frame)
                except ValidationException as error:
                    await self._send({"type": "error", "problem": problem_of(error)})
                except Exception as error:  # the frame fails, not the session
                    log.exception("a co-editing frame failed", document=str(self.document_id))
                    await self._send({"type": "error", "problem": _problem(error)})

    async def _take(self, frame: Frame) -> None:
        if (frame.op is None) == (frame.presence is None):
            raise invalid("body", "send an op (with base_revision and seq) or a presence")
        if frame.presence is not None:
            revision = self.sent if frame.revision is None else frame.revision
            if revision > self.sent:
                raise invalid("revision", f"this client was sent revision {self.sent} at most")
            presence = frame.presence
            self.me = Editor(
                self.client_id, self.author, revision, presence.cursor, presence.name,
                presence.color, "here",
            )  # fmt: skip
            await self.editors.show(self.held, str(self.document_id), self.me)
            return
        if frame.base_revision is None:
            raise invalid("base_revision", "an op needs the revision it was made on")
        await self._submit(op_of(frame.op or []), frame.base_revision, frame.seq)

    async def _submit(self, op: list[Any], base_revision: int, seq: int) -> None:
        """Submit the client's op; its ack comes on the document's stream, in order. A
        refused op is answered with an ``error`` frame naming its ``seq``. (A resent op
        is known by the client's id and its seq, without an idempotency key.)"""
        context = CommandContext.for_principal(self.principal, SUBMIT)
        try:
            await self.documents.edit(
                context, self.document_id, op, base_revision, self.author, self.client_id, seq
            )
        except Exception as error:
            await self._send({"type": "error", "seq": seq, "problem": _problem(error)})

    def _queue(self, frame: Any) -> None:
        self._outbox.append(
            frame if isinstance(frame, str) else msgspec.json.encode(frame).decode()
        )

    async def _send(self, frame: Any) -> None:
        self._queue(frame)
        await self._flush()

    async def _flush(self) -> None:
        """Send what is queued, in order (whoever queued it)."""
        async with self._sending:
            while self._outbox:
                frames, self._outbox = self._outbox, []
                if self.batched and len(frames) > 1:
                    await self.socket.send_data(f"[{','.join(frames)}]", mode="text")
                    continue
                for text in frames:
                    await self.socket.send_data(text, mode="text")


# An event reaches every editor of its document in this process: decoded, and its frame
# encoded, once for all of them.
@functools.lru_cache(maxsize=256)
def _data_of(payload: bytes) -> Any:
    return msgspec.json.decode(payload)["data"]


@functools.lru_cache(maxsize=256)
def _op_frame(payload: bytes) -> str:
    data = _data_of(payload)
    return _encoded_op(data["revision"], data["op"], data["author"], data.get("source", ""))


def _encoded_op(revision: int, op: Op, author: str, source: str) -> str:
    frame = {"type": "op", "revision": revision, "op": op, "author": author}
    return msgspec.json.encode(frame | ({"source": source} if source else {})).decode()


def _problem(error: Exception) -> dict[str, Any]:
    return problem_body(problem_for(error))
