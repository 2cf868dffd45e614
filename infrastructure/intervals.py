"""An interval of time for work done now and then (the scheduler's periodic work)."""

from __future__ import annotations

import time
from collections.abc import Callable


class Interval:
    """Says whether ``seconds`` have passed since it last said yes (the first time: yes)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._last: float | None = None

    def passed(self) -> bool:
        now = self.clock()
        if self._last is not None and now - self._last < self.seconds:
            return False
        self._last = now
        return True
