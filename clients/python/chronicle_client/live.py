"""Following ``/v1/live`` (Server-Sent Events): the frames parsed, the cursor kept, and a
``resync`` taken as "reconnect from this cursor". The iterators that connect are the
clients' ``live`` methods; this module does no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

LIVE_PATH = "/v1/live"
RESYNC = "resync"
# The server sends a keep-alive every 15 s: a connection silent for longer is dead.
READ_TIMEOUT_S = 45.0


class LiveEvent(msgspec.Struct, frozen=True):
    """One event of the live stream: ``type`` is the SSE event name (``MessagePosted``,
    or an ephemeral one such as ``token_delta``, ``presence``, ``typing``); ``position``
    is the log's position (``None`` for ephemeral events, which a resume never replays);
    ``data`` the JSON it carries (a CloudEvents envelope for stored events)."""

    type: str
    position: int | None
    data: Any


class Frame(msgspec.Struct):
    """A Server-Sent Events frame as parsed."""

    id: str | None = None
    event: str | None = None
    data: str | None = None


class FrameParser:
    """Turns the lines of an SSE stream into frames (comments, such as keep-alives, are
    dropped)."""

    def __init__(self) -> None:
        self._frame = Frame()
        self._empty = True

    def feed(self, line: str) -> Frame | None:
        """The frame that ``line`` ends, if it ends one."""
        if line == "":
            frame, empty = self._frame, self._empty
            self._frame, self._empty = Frame(), True
            return None if empty else frame
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            self._frame.data = value if self._frame.data is None else f"{self._frame.data}\n{value}"
        elif name in ("id", "event"):
            setattr(self._frame, name, value)
        else:
            return None  # a comment or an unknown field
        self._empty = False
        return None


class Cursor:
    """Where a live client stands: the position of the last stored event it took, sent
    as ``Last-Event-ID`` on reconnecting, so that nothing is missed or seen twice."""

    def __init__(self, subjects: Iterable[str], cursor: int | None) -> None:
        self.subjects = ",".join(subjects)
        self.position = cursor
        self.resyncs = 0

    def params(self) -> dict[str, str]:
        return {"subjects": self.subjects} if self.subjects else {}

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream"}
        if self.position is not None:
            headers["Last-Event-ID"] = str(self.position)
        return headers

    def take(self, frame: Frame) -> Iterator[LiveEvent]:
        """The event a frame carries, with the cursor moved past it. A ``resync`` (the
        client fell too far behind and the server lets go) moves the cursor to the
        position to resume from and yields nothing: the next connection replays from
        there."""
        if frame.event == RESYNC:
            self.resyncs += 1
            self.position = int(msgspec.json.decode(frame.data or "{}")["cursor"])
            return
        position = int(frame.id) if frame.id else None
        if position is not None:
            if self.position is not None and position <= self.position:
                return  # already taken (a replay overlapping what was delivered)
            self.position = position
        data = msgspec.json.decode(frame.data) if frame.data else None
        yield LiveEvent(frame.event or "message", position, data)
