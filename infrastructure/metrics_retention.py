"""Retention of the metrics history and of the operational samples: minute buckets kept
for days, hour buckets longer.

Run by the scheduler at most once per interval; it deletes only what the read model's own
query (`projections.metrics.forget_old_buckets`) and the samples' own
(`infrastructure.system_samples.forget_old_samples`) name, and never raises.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import structlog

from infrastructure.intervals import Interval
from infrastructure.system_samples import forget_old_samples
from projections.metrics import forget_old_buckets

log = structlog.get_logger(__name__)
EVERY_SECONDS = 600.0


class MetricsRetention:
    """Forgets minute buckets older than ``minute_days`` and hour buckets older than
    ``hour_days``, when ``due`` is called and the interval since the last time has passed."""

    def __init__(
        self,
        dsn: str,
        minute_days: int,
        hour_days: int,
        every: float = EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.dsn = dsn
        self.minute_days = minute_days
        self.hour_days = hour_days
        self.interval = Interval(every, clock)

    def due(self) -> int | None:
        """Forget what is past retention if the interval has passed: how many rows went."""
        return self.run(datetime.now(UTC)) if self.interval.passed() else None

    def run(self, now: datetime) -> int | None:
        try:
            minutes_before = now - timedelta(days=self.minute_days)
            hours_before = now - timedelta(days=self.hour_days)
            with psycopg.connect(self.dsn) as conn:
                forgotten = forget_old_buckets(conn, minutes_before, hours_before)
                return forgotten + forget_old_samples(conn, minutes_before, hours_before)
        except psycopg.Error as error:
            log.warning("metrics retention failed", error=f"{type(error).__name__}: {error}")
            return None
