"""How far behind the log its followers are, and what waits in the task queue, as one
snapshot of PostgreSQL shows it: what /metrics reports at each scrape.

Read only, and cheap: a handful of index lookups and one grouped count, each statement
bounded by a timeout. The same in every process, whichever one runs the followers.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.events import RecordedEvent
from infrastructure.event_log import LogReader
from infrastructure.read_models import Conn, Lag, ProjectionStatus, lag_of, projection_statuses
from projections.base import READ_SCHEMA

STATEMENT_TIMEOUT_MS = 2000
TASK_SERIES_MAX = 200  # (type, state) pairs reported, the largest first
TASK_STATES = ("pending", "running", "dead")


@dataclass(frozen=True)
class TaskCount:
    type: str
    state: str
    count: int


@dataclass(frozen=True)
class Backlogs:
    head: int
    projections: list[ProjectionStatus]
    relay: Lag | None  # None: no relay has run against this database yet
    tasks: list[TaskCount]


def read_backlogs(conn: Conn, events: LogReader[RecordedEvent]) -> Backlogs:
    """Every backlog, in the caller's (read-only, repeatable-read) transaction."""
    conn.execute(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
    head = events.head(conn)
    found = conn.execute(
        "SELECT to_regclass('chronicle_relay') IS NOT NULL AS relay,"
        f" to_regclass('{READ_SCHEMA}.tasks') IS NOT NULL AS tasks"
    ).fetchone()
    relay = None
    if found and found["relay"]:
        row = conn.execute("SELECT position FROM chronicle_relay WHERE name = 'relay'").fetchone()
        relay = lag_of(conn, events, int(row["position"]) if row else 0, head)
    tasks = []
    if found and found["tasks"]:
        rows = conn.execute(
            f"SELECT type, state, count(*) AS count FROM {READ_SCHEMA}.tasks"  # noqa: S608
            " WHERE state = ANY(%s) GROUP BY type, state ORDER BY count DESC LIMIT %s",
            (list(TASK_STATES), TASK_SERIES_MAX),
        ).fetchall()
        tasks = [TaskCount(row["type"], row["state"], int(row["count"])) for row in rows]
    return Backlogs(head, projection_statuses(conn, events, head), relay, tasks)
