"""The event loop a process writes on, and the way other threads and loops reach it.

Every command of a process is committed by one group commit, which lives on one event
loop: the API's own (attached when it starts) or, in a process that runs none (the CLI,
the scheduler, a test), a loop the portal runs in a thread of its own. A synchronous
caller hands a coroutine to that loop and waits for its outcome; a coroutine on another
loop awaits it there.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")


class Portal:
    """The home loop of a process's writes (see the module's docstring)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def attach(self) -> None:
        """Make the running loop the home loop (the API's, at start)."""
        self._loop = asyncio.get_running_loop()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The home loop: the attached one while it runs, else one of the portal's own."""
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                if self._closed:
                    raise RuntimeError("the portal is closed")
                self._loop = self._start_own_loop()
            return self._loop

    def on_home_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def call(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """``await fn(*args, **kwargs)`` on the home loop, from a thread that does not run
        it, and its outcome."""
        loop = self.loop
        if self.on_home_loop():
            raise RuntimeError("a blocking call on the home loop would wait for itself")
        return asyncio.run_coroutine_threadsafe(_awaited(fn, *args, **kwargs), loop).result()

    async def run(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """``await fn(*args, **kwargs)`` on the home loop, from any coroutine."""
        loop = self.loop
        if asyncio.get_running_loop() is loop:
            return await fn(*args, **kwargs)
        future = asyncio.run_coroutine_threadsafe(_awaited(fn, *args, **kwargs), loop)
        return await asyncio.wrap_future(future)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the portal's own loop, if it started one (an attached loop is not its own)."""
        with self._lock:
            thread, loop = self._thread, self._loop
            self._thread, self._closed = None, True
        if thread is None or loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)

    def _start_own_loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(started.set)
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="writes-loop", daemon=True)
        self._thread.start()
        started.wait()
        return loop


async def _awaited(fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
    return await fn(*args, **kwargs)
