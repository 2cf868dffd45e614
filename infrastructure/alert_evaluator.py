"""The alert evaluator as a process: evaluates every rule every interval on a thread,
its commands on the portal's loop. What an evaluation does is `application.alerts`."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import structlog

from application.alerts import Evaluator
from infrastructure.portal import Portal

log = structlog.get_logger(__name__)


class EvaluatorThread:
    """Calls `Evaluator.evaluate` with the time now, every ``evaluator.interval``."""

    def __init__(self, evaluator: Evaluator, portal: Portal) -> None:
        self.evaluator = evaluator
        self.portal = portal
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name="alerts", daemon=True)

    def run(self) -> None:
        every = self.evaluator.interval.total_seconds()
        while True:
            try:
                self.portal.call(self.evaluator.evaluate, datetime.now(UTC))
            except Exception as error:  # the store may be away: the thread must live
                log.warning(
                    "could not evaluate alert rules", error=f"{type(error).__name__}: {error}"
                )
            if self._stop.wait(every):
                return

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def wait(self) -> None:
        while not self._stop.wait(0.5):
            pass
