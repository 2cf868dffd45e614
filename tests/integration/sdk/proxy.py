"""A TCP proxy in front of the API that fails as a network does, for the SDK's tests: it
loses the answer to a request the server has handled, answers 503 instead of the server,
or cuts every open connection. Everything else passes through to the real server."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n"
    b"Retry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
)
PROBLEM = (
    b'{"type":"https://chronicle.dev/problems/unavailable","title":"Unavailable","status":503}'
)


class Proxy:
    """Listens on ``url``; each connection's first request is read whole (``requests``
    keeps its head), then handled as the next fault asks, or passed through."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.url = ""
        self.requests: list[bytes] = []
        self.lose_answers = 0  # requests whose answer is lost once the server sent it
        self.unavailable = 0  # requests answered 503 (with Retry-After) without forwarding
        self._open: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def cut(self) -> None:
        """Abort every open connection, as a failing network would."""

        def abort() -> None:
            for writer in list(self._open):
                writer.transport.abort()

        self._loop.call_soon_threadsafe(abort)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        self._started.set()
        self._loop.run_forever()
        server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        upstream: asyncio.StreamWriter | None = None
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            request = head + await reader.readexactly(length)
            self.requests.append(head)
            if self.unavailable:
                self.unavailable -= 1
                writer.write(UNAVAILABLE % (len(PROBLEM), PROBLEM))
                await writer.drain()
                return
            up_reader, upstream = await asyncio.open_connection(self.host, self.port)
            self._open.add(upstream)
            upstream.write(request)
            if self.lose_answers:
                self.lose_answers -= 1
                await up_reader.read(1)  # the server has handled it and begun to answer
                writer.transport.abort()
                return
            await asyncio.gather(_pipe(reader, upstream), _pipe(up_reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            for end in (writer, upstream):
                if end is not None:
                    self._open.discard(end)
                    end.close()

    def start(self) -> None:
        self._thread.start()
        self._started.wait(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _shutdown(self) -> None:
        for writer in list(self._open):
            writer.transport.abort()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(ConnectionError, OSError):
        writer.write_eof()


@contextmanager
def proxy(target: str) -> Iterator[Proxy]:
    running = Proxy(target)
    running.start()
    try:
        yield running
    finally:
        running.stop()
