"""A webhook receiver for tests: a real HTTP server on loopback that keeps what each path
receives and answers as told (2xx, an error, a redirect, or not before the sender gives up)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from infrastructure.embedded import free_port


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Per path: what it received, and how it answers (``"ok"``, ``"fail"``, ``"hang"``,
    ``"redirect"``; ok unless told)."""

    url: str = ""
    received: dict[str, list[Received]] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, path: str, headers: dict[str, str], body: bytes) -> str:
        with self.lock:
            self.received.setdefault(path, []).append(Received(headers, body))
            return self.answers.get(path, "ok")

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return list(self.received.get(path, []))

    def wait_for(self, path: str, count: int, within_s: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + within_s
        while len(found := self.at(path)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} received {len(found)} of {count}")
            time.sleep(0.02)
        return found


@contextmanager
def receiving(hang_s: float = 3.0) -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            answer = receiver.take(self.path, dict(self.headers.items()), body)
            if answer == "hang":
                time.sleep(hang_s)
            status = {"ok": 204, "fail": 500, "hang": 204, "redirect": 307}[answer]
            self.send_response(status)
            if answer == "redirect":
                self.send_header("Location", f"{receiver.url}/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
