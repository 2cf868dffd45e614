"""Retention of personal data per tenant: the scheduler erases, now and then, the
conversations of each tenant that sets a retention (`chronicle retention set`) once they
are that many days old, as an erasure by request does (decision 28).

A conversation is found by the conversations read model (when it started) and the keys
table (whether it holds values still): one erased already, with nothing new since, is not
found again; one that went on after its erasure is erased again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
import structlog

from application.erasure import Subjects
from application.identity import Identity
from infrastructure.intervals import Interval
from infrastructure.portal import Portal
from projections.base import READ_SCHEMA

log = structlog.get_logger(__name__)
EVERY_SECONDS = 300.0
EXPIRED_CONVERSATIONS = (
    "SELECT DISTINCT k.subject FROM chronicle_subject_keys k"  # noqa: S608 (a constant schema)
    f" JOIN {READ_SCHEMA}.conversations c"
    " ON c.tenant_id = k.tenant_id AND k.subject = 'conversation:' || c.id::text"
    " WHERE k.tenant_id = %s AND c.created_at < %s ORDER BY k.subject LIMIT %s"
)


class ExpiredConversations:
    """The application's `Expired`, from the conversations read model and the keys table."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def conversations(self, tenant_id: str, started_before: datetime, limit: int) -> list[str]:
        with psycopg.connect(self.dsn) as conn:
            rows = conn.execute(EXPIRED_CONVERSATIONS, (tenant_id, started_before, limit))
            return [str(row[0]) for row in rows.fetchall()]


class PrivacyRetention:
    """Erases what is past each tenant's retention when ``due`` is called and the interval
    since the last time has passed; never raises (the scheduler's thread must live)."""

    def __init__(
        self,
        identity: Identity,
        subjects: Subjects,
        portal: Portal,
        every: float = EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.identity = identity
        self.subjects = subjects
        self.portal = portal
        self.interval = Interval(every, clock)

    def due(self) -> int | None:
        """Erase what is past retention if the interval has passed: how many were erased."""
        return self.run(datetime.now(UTC)) if self.interval.passed() else None

    def run(self, now: datetime) -> int:
        """Erase every tenant's conversations past its retention as of ``now``."""
        erased = 0
        for tenant, days in self.identity.retention().items():
            try:
                erased += self.portal.call(self.subjects.erase_expired, tenant, days, now)
            except Exception as error:  # one tenant's failure stops no other's
                log.warning(
                    "privacy retention failed",
                    tenant=tenant,
                    error=f"{type(error).__name__}: {error}",
                )
        return erased
