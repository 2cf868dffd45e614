"""Restarts the embedded servers of `chronicle up` that exit while it runs.

Each server has a watcher thread that restarts it (same port, same data) with exponential
backoff. A child dies when the thread that spawned it ends (PR_SET_PDEATHSIG follows the
thread), so the watchers live until `close`, which comes after the servers were stopped.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog

log = structlog.get_logger(__name__)


class Supervised(Protocol):
    """A server the supervisor can watch and start again."""

    name: str

    def exit_code(self) -> int | None:
        """Its process's exit status once it has exited by itself; ``None`` otherwise."""
        ...

    def start(self) -> None:
        """Start it and wait until it answers; raises if it does not."""
        ...

    def stop(self) -> None:
        """Stop it (if it still runs) and release what its process held."""
        ...

    def last_words(self) -> str:
        """The last line of its log: why it exited, as it said it."""
        ...


@dataclass(frozen=True)
class Backoff:
    """Delays before each restart: ``first``, doubling up to ``most``; a server that stayed
    up ``stable_s`` starts again from ``first``."""

    first_s: float = 0.5
    most_s: float = 10.0
    stable_s: float = 30.0

    def delay(self, attempt: int) -> float:
        return float(min(self.first_s * 2 ** (attempt - 1), self.most_s))


@dataclass(frozen=True)
class Exit:
    """How a server's process ended: its exit status and the last line it logged."""

    code: int
    said: str


class Supervisor:
    """Watches servers that are running; `stop` ends the restarts, `close` the watchers."""

    def __init__(
        self, servers: Sequence[Supervised], backoff: Backoff = Backoff(), poll_s: float = 0.1
    ) -> None:
        self.backoff = backoff
        self.poll_s = poll_s
        self._stopping = threading.Event()
        self._released = threading.Event()
        self._locks = {server.name: threading.Lock() for server in servers}
        self._threads = [
            threading.Thread(
                target=self._watch, args=(server,), name=f"supervise-{server.name}", daemon=True
            )
            for server in servers
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """No more restarts; returns once no restart is under way."""
        self._stopping.set()
        for lock in self._locks.values():
            with lock:
                pass

    def close(self, timeout: float = 5.0) -> None:
        """End the watchers (after the servers were stopped: a child dies with its thread)."""
        self.stop()
        self._released.set()
        for thread in self._threads:
            thread.join(timeout)

    def _watch(self, server: Supervised) -> None:
        attempt, up_since, down_since = 0, time.monotonic(), 0.0
        exited: Exit | None = None
        while not self._stopping.wait(self.poll_s):
            if exited is None:  # it was running
                if (code := server.exit_code()) is None:
                    continue
                exited, down_since = Exit(code, server.last_words()), time.monotonic()
                if down_since - up_since >= self.backoff.stable_s:
                    attempt = 0
            attempt += 1
            delay = self.backoff.delay(attempt)
            log.warning(
                "embedded server exited",
                server=server.name,
                exit_code=exited.code,
                attempt=attempt,
                restart_in_s=delay,
                said=exited.said,
            )
            if self._stopping.wait(delay):
                break
            exited = self._restart(server)
            if exited is None and not self._stopping.is_set():
                up_since = time.monotonic()
                log.warning(
                    "embedded server restarted",
                    server=server.name,
                    attempt=attempt,
                    down_s=round(up_since - down_since, 2),
                )
        self._released.wait()  # its children die with this thread

    def _restart(self, server: Supervised) -> Exit | None:
        """Start ``server`` again: ``None`` once it answers, else how the attempt ended."""
        with self._locks[server.name]:
            if self._stopping.is_set():
                return None
            server.stop()  # reap the exited process, close its log
            try:
                server.start()
            except Exception as error:  # it exited, or did not answer in time
                code = server.exit_code()
                said = server.last_words() if code is not None else str(error).split("\n")[0]
                server.stop()
                return Exit(-1 if code is None else code, said)
            return None


def process_exists(pid: int) -> bool:
    """Whether a process ``pid`` runs (one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
