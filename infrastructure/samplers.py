"""The two writers of operational samples (`infrastructure.system_samples`): the alerts
process samples the log's followers and the store, each API process its own connections and
request latency. Neither ever raises: a sample that cannot be written waits for the next.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
import structlog
from psycopg.rows import dict_row

from domain.events import RecordedEvent
from infrastructure.backlogs import Backlogs, read_backlogs
from infrastructure.event_log import LogReader
from infrastructure.live_limits import LiveLimits
from infrastructure.request_latency import Latencies
from infrastructure.system_samples import Sample, write_samples

CONNECT_TIMEOUT_S = 5
WAITING_MAX = 20_000  # samples kept while the store is away: days of them
log = structlog.get_logger(__name__)


def _write(dsn: str, samples: list[Sample], source: str = "") -> None:
    with psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        write_samples(conn, samples, source)


class SystemSampler:
    """Samples how far projections and the relay are behind, parked events and whether
    the store answers (`store_available`). While the store is away its samples wait in
    memory (up to `WAITING_MAX`) and are written once it is back, at the times taken, so the
    history shows the outage and the built-in `store unavailable` rule sees it then."""

    def __init__(self, dsn: str, reader: LogReader[RecordedEvent]) -> None:
        self.dsn = dsn
        self._reader = reader
        self._waiting: deque[Sample] = deque(maxlen=WAITING_MAX)

    def sample(self, now: datetime) -> list[Sample]:
        """Take this interval's samples (stamped ``now``) and write every waiting one; the
        samples taken."""
        try:
            taken = self._figures(self._backlogs(), now)
        except (psycopg.Error, OSError) as error:
            log.warning("store unavailable to the sampler", error=type(error).__name__)
            taken = [Sample("store_available", "", 0, now)]
        self._waiting.extend(taken)
        try:
            _write(self.dsn, list(self._waiting))
        except (psycopg.Error, OSError) as error:
            log.warning("samples wait for the store", waiting=len(self._waiting), error=str(error))
        else:
            self._waiting.clear()
        return taken

    def _backlogs(self) -> Backlogs:
        with psycopg.connect(
            self.dsn, row_factory=dict_row, connect_timeout=CONNECT_TIMEOUT_S
        ) as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            return read_backlogs(conn, self._reader)

    @staticmethod
    def _figures(backlogs: Backlogs, now: datetime) -> list[Sample]:
        taken = [Sample("store_available", "", 1, now)]
        if backlogs.relay is not None:
            taken.append(Sample("relay_lag_events", "", backlogs.relay.events, now))
        for status in backlogs.projections:
            taken.append(Sample("projection_lag_s", status.name, status.lag_seconds, now))
            taken.append(Sample("parked_events", status.name, status.parked, now))
        return taken


class ProcessSampler:
    """An API process's own samples, under a source of its own so that the processes of
    `serve --workers N` add up: its live connections by transport (`sse`, `websocket`,
    `document`), and the 95th percentile of its HTTP requests' durations since the last
    sample."""

    def __init__(
        self,
        dsn: str,
        live: LiveLimits,
        latencies: Latencies,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.dsn = dsn
        self.source = uuid.uuid4().hex  # this process, for as long as it runs
        self._live = live
        self._latencies = latencies
        self._clock = clock

    def take(self) -> list[Sample]:
        now, held = self._clock(), self._live.held()
        taken = [
            Sample("live_connections", transport, held.get(transport, 0), now)
            for transport in sorted({"sse", "websocket", *held})  # and "document" sockets
        ]
        if (p95 := self._latencies.take_p95()) is not None:
            taken.append(Sample("http_p95_ms", "", p95, now))
        return taken

    async def report_every(self, seconds: float) -> None:
        """Take and write this process's samples every ``seconds``, until cancelled."""
        while True:
            await asyncio.sleep(seconds)
            taken = self.take()
            try:
                await asyncio.to_thread(_write, self.dsn, taken, self.source)
            except Exception as error:  # the next interval samples again
                log.warning("could not write this process's samples", error=str(error))
