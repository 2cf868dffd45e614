"""The alert evaluator as a process: samples the system (`SystemSampler`) and evaluates
every rule, each at its interval, on one thread (a sample first, so an evaluation sees
it), its commands on the portal's loop. What an evaluation does is `application.alerts`."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import structlog

from application.alerts import Evaluator
from infrastructure.portal import Portal
from infrastructure.samplers import SystemSampler

log = structlog.get_logger(__name__)


class EvaluatorThread:
    """Calls `SystemSampler.sample` every ``sample_every`` and `Evaluator.evaluate` every
    ``evaluator.interval``, with the time now."""

    def __init__(
        self,
        evaluator: Evaluator,
        portal: Portal,
        sampler: SystemSampler | None = None,
        sample_every: timedelta = timedelta(seconds=15),
    ) -> None:
        self.evaluator = evaluator
        self.portal = portal
        self.sampler = sampler
        self.sample_every = sample_every.total_seconds()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name="alerts", daemon=True)

    def run(self) -> None:
        every = self.evaluator.interval.total_seconds()
        next_sample = next_evaluation = time.monotonic()
        while True:
            if self.sampler is not None and time.monotonic() >= next_sample:
                next_sample = time.monotonic() + self.sample_every
                self._sample(self.sampler)
            if time.monotonic() >= next_evaluation:
                next_evaluation = time.monotonic() + every
                self._evaluate()
            due = next_evaluation if self.sampler is None else min(next_sample, next_evaluation)
            if self._stop.wait(max(0.0, due - time.monotonic())):
                return

    @staticmethod
    def _sample(sampler: SystemSampler) -> None:
        try:
            sampler.sample(datetime.now(UTC))
        except Exception as error:  # a bug in a sample must not stop the evaluations
            log.warning("could not sample the system", error=f"{type(error).__name__}: {error}")

    def _evaluate(self) -> None:
        try:
            self.portal.call(self.evaluator.evaluate, datetime.now(UTC))
        except Exception as error:  # the store may be away: the thread must live
            log.warning("could not evaluate alert rules", error=f"{type(error).__name__}: {error}")

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def wait(self) -> None:
        while not self._stop.wait(0.5):
            pass
