"""Whether the work of each worker kind gets done, as PostgreSQL shows it (for healthchecks).

Read only: a check never writes, so it can run as often as a healthcheck likes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

from infrastructure.event_log import LogReader
from infrastructure.read_models import STALE_AFTER_SECONDS, Conn
from projections.base import READ_SCHEMA

# A follower that is behind the head and has not moved for this long is not working.
MOVE_WITHIN_SECONDS = 10.0
# The scheduler ticks every 0.25 s: a lease this long expired and still running was missed.
LATE_AFTER_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str


Positions = Callable[[Conn], dict[str, int]]
LOG: LogReader[Any] = LogReader()  # the head only


def head(conn: Conn) -> int:
    return LOG.head(conn)


def following(conn: Conn, positions: Positions, within: float) -> Health:
    """Each follower reaches the head of the log as it stood now, or moves, within ``within``
    seconds; one that does neither is named. Caught up at once is the usual answer."""
    target, first = head(conn), positions(conn)
    if not first:
        return Health(False, "has not started: no checkpoint yet")
    deadline = time.monotonic() + within
    while True:
        now = positions(conn)
        stuck = {n: at for n, at in now.items() if at < target and at <= first.get(n, at)}
        if not stuck:
            caught_up = all(at >= target for at in now.values())
            return Health(True, f"{'caught up with' if caught_up else 'moving to'} {target}")
        if time.monotonic() >= deadline:
            shown = ", ".join(f"{name} at {at}" for name, at in sorted(stuck.items()))
            return Health(False, f"{shown} of {target}: behind, and not moving for {within:g}s")
        time.sleep(0.2)


def _projection_positions(conn: Conn) -> dict[str, int]:
    rows = conn.execute(
        "SELECT p.name, c.position FROM chronicle_projections p JOIN chronicle_checkpoints c"
        " ON c.name = p.name AND c.generation = p.generation"
    ).fetchall()
    return {row["name"]: int(row["position"]) for row in rows}


def projections(conn: Conn, within: float = MOVE_WITHIN_SECONDS) -> Health:
    """Every projection runs (not stopped), a projector's heartbeat for it is fresh (each
    projector writes it every 2 s while it follows the log), and it keeps up."""
    rows = conn.execute(
        "SELECT name, state, extract(epoch FROM now() - heartbeat_at) AS silent"
        " FROM chronicle_projections ORDER BY name"
    ).fetchall()
    for row in rows:
        if row["state"] != "running":
            return Health(False, f"projection {row['name']} is {row['state']}")
        if row["silent"] is None or row["silent"] > STALE_AFTER_SECONDS:
            return Health(
                False,
                f"no projector has followed the log for {row['name']}"
                f" in the last {STALE_AFTER_SECONDS}s",
            )
    return following(conn, _projection_positions, within)


def _relay_position(conn: Conn) -> dict[str, int]:
    row = conn.execute("SELECT position FROM chronicle_relay WHERE name = 'relay'").fetchone()
    return {} if row is None else {"relay": int(row["position"])}


def relay(conn: Conn, within: float = MOVE_WITHIN_SECONDS) -> Health:
    """JetStream has acknowledged the log up to its head, or the relay is publishing."""
    return following(conn, _relay_position, within)


def _chain_position(conn: Conn) -> dict[str, int]:
    row = conn.execute("SELECT position FROM chronicle_chain_head WHERE id = 1").fetchone()
    return {} if row is None else {"chain": int(row["position"])}


def chain(conn: Conn, within: float = MOVE_WITHIN_SECONDS) -> Health:
    """The hash chain is sealed up to the head of the log, or the sealer is sealing."""
    return following(conn, _chain_position, within)


def _webhooks_position(conn: Conn) -> dict[str, int]:
    row = conn.execute(
        "SELECT position FROM chronicle_webhook_checkpoint WHERE name = 'dispatcher'"
    ).fetchone()
    return {} if row is None else {"webhooks": int(row["position"])}


def webhooks(conn: Conn, within: float = MOVE_WITHIN_SECONDS) -> Health:
    """The webhook dispatcher has followed the log to its head, or is following it."""
    return following(conn, _webhooks_position, within)


def scheduler(conn: Conn, late_after: float = LATE_AFTER_SECONDS) -> Health:
    """No running task's lease expired more than ``late_after`` seconds ago (as the tasks
    read model, which the scheduler reads, shows it)."""
    row = conn.execute(
        f"SELECT count(*) AS late FROM {READ_SCHEMA}.tasks"  # noqa: S608
        " WHERE state = 'running' AND lease_until < now() - make_interval(secs => %s)",
        (late_after,),
    ).fetchone()
    late = int(row["late"]) if row else 0
    if late:
        return Health(False, f"{late} task(s) whose lease expired over {late_after:g}s ago run on")
    return Health(True, "no expired lease waits")


def alerts(conn: Conn, late_after: float = LATE_AFTER_SECONDS * 6) -> Health:
    """No pending alert waits to fire more than ``late_after`` seconds past its rule's
    ``for_s`` (as the alerts read model shows it; the evaluator fires them)."""
    row = conn.execute(
        f"SELECT count(*) AS late FROM {READ_SCHEMA}.alerts a"  # noqa: S608
        f" JOIN {READ_SCHEMA}.alert_rules r USING (rule_id)"
        " WHERE a.state = 'pending' AND NOT r.deleted"
        " AND a.since + make_interval(secs => r.for_s + %s) < now()",
        (late_after,),
    ).fetchone()
    late = int(row["late"]) if row else 0
    if late:
        return Health(False, f"{late} pending alert(s) past their `for` did not fire")
    return Health(True, "no pending alert is late")


def check(dsn: str, judge: Callable[[Conn], Health]) -> Health:
    """``judge`` on a connection of its own; a missing table means not set up yet."""
    with psycopg.connect(
        dsn, row_factory=dict_row, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
    ) as conn:
        try:
            return judge(conn)
        except psycopg.errors.UndefinedTable as error:
            return Health(False, f"not set up yet ({str(error).splitlines()[0]})")
