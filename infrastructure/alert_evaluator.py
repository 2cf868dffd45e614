"""The alerts process: the evaluator, and the sampler of the system beside it, each on a
thread of its own (an evaluation that waits for the store must not keep the sampler from
seeing it gone), the evaluator's commands on the portal's loop. What an evaluation does is
`application.alerts`; what a sample is, `infrastructure.samplers`.

One evaluator evaluates at a time, whichever holds an advisory lock: two would each open an
alert for the same rule. Another `chronicle alerts` stands by, and takes up the open alerts
when it takes the lock over."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import structlog

from application.alerts import Evaluator
from infrastructure.portal import Portal
from infrastructure.samplers import SystemSampler

log = structlog.get_logger(__name__)
EVALUATOR_LOCK = 0x41_4C_52_54  # "ALRT"


class Leadership:
    """A session advisory lock held on a connection of its own: whether this process
    leads, taken when free, lost with its connection."""

    def __init__(self, dsn: str, key: int = EVALUATOR_LOCK) -> None:
        self.dsn = dsn
        self.key = key
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None

    def held(self) -> bool:
        """Whether the lock is held now; tries to take it when it is not (no wait)."""
        try:
            if self._conn is not None and not self._conn.closed:
                self._conn.execute("SELECT 1")  # a connection gone took the lock with it
                return True
            self._conn = psycopg.connect(self.dsn, autocommit=True)
            row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
            if row is not None and row[0]:
                return True
        except psycopg.Error:
            pass
        self.release()
        return False

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()  # the session's lock goes with it
            self._conn = None


class EvaluatorThread:
    """Calls `Evaluator.evaluate` every ``evaluator.interval`` and `SystemSampler.sample`
    every ``sample_every``, each with the time now."""

    def __init__(
        self,
        evaluator: Evaluator,
        portal: Portal,
        sampler: SystemSampler | None = None,
        sample_every: timedelta = timedelta(seconds=15),
        leadership: Leadership | None = None,
    ) -> None:
        self.evaluator = evaluator
        self.portal = portal
        self.leadership = leadership  # None: this one evaluates, alone by construction
        self._leading = leadership is None
        self._stop = threading.Event()
        self._threads = [self._every("alerts", evaluator.interval, self.evaluate_once)]
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

    def evaluate_once(self, now: datetime) -> bool:
        """Evaluate every rule at ``now`` if this process leads; whether it did."""
        if self.leadership is not None:
            leading = self.leadership.held()
            if leading and not self._leading:
                self.evaluator.recover()  # what the last leader left open
                log.info("alert evaluator leads")
            self._leading = leading
        if self._leading:
            self.portal.call(self.evaluator.evaluate, now)
        return self._leading

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)
        if self.leadership is not None:
            self.leadership.release()

    def wait(self) -> None:
        while not self._stop.wait(0.5):
            pass
