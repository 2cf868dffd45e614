"""The alerts process: the evaluator, and the sampler of the system beside it, each on a
thread of its own (an evaluation that waits for the store must not keep the sampler from
seeing it gone), the evaluator's commands on the portal's loop. What an evaluation does is
`application.alerts`; what a sample is, `infrastructure.samplers`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog

from application.alerts import Evaluator
from infrastructure.portal import Portal
from infrastructure.samplers import SystemSampler

log = structlog.get_logger(__name__)


class EvaluatorThread:
    """Calls `Evaluator.evaluate` every ``evaluator.interval`` and `SystemSampler.sample`
    every ``sample_every``, each with the time now."""

    def __init__(
        self,
        evaluator: Evaluator,
        portal: Portal,
        sampler: SystemSampler | None = None,
        sample_every: timedelta = timedelta(seconds=15),
    ) -> None:
        self.evaluator = evaluator
        self.portal = portal
        self._stop = threading.Event()
        self._threads = [self._every("alerts", evaluator.interval, self._evaluate)]
        if sampler is not None:
            self._threads.append(self._every("sampler", sample_every, sampler.sample))

    def _every(
        self, name: str, interval: timedelta, work: Callable[[datetime], object]
    ) -> threading.Thread:
        def run() -> None:
            while True:
                try:
                    work(datetime.now(UTC))
                except Exception as error:  # the store may be away: the thread must live
                    log.warning(f"{name} failed", error=f"{type(error).__name__}: {error}")
                if self._stop.wait(interval.total_seconds()):
                    return

        return threading.Thread(target=run, name=name, daemon=True)

    def _evaluate(self, now: datetime) -> None:
        self.portal.call(self.evaluator.evaluate, now)

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)

    def wait(self) -> None:
        while not self._stop.wait(0.5):
            pass
