"""Operators' repairs of a projection: retry its parked events after a fix, or skip one.

Each runs in one transaction under the projection's row lock, as a projector's batch does,
so an event is never applied twice however many projectors run meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from infrastructure.parking import describe
from infrastructure.projector import ProjectionWriter
from infrastructure.read_models import Conn, ValuesDecoder, connect
from projections.base import Projection


class RepairRefused(RuntimeError):
    """The repair cannot be done as asked; nothing was changed."""


@dataclass
class Retried:
    """What a retry applied and what is still parked, by position, in order."""

    applied: list[int] = field(default_factory=list)
    still_parked: list[int] = field(default_factory=list)
    resumed: bool = False  # a projection stopped by an older version was set running


@dataclass(frozen=True)
class Skipped:
    """The parked event dropped, and how many events of its aggregate are still parked."""

    error: str
    aggregate_id: UUID | None = None
    behind: int = 0


def _lock(conn: Conn, name: str) -> dict[str, Any]:
    row = conn.execute(
        "SELECT generation, state, error, error_position FROM chronicle_projections"
        " WHERE name = %s FOR UPDATE",
        (name,),
    ).fetchone()
    if row is None:
        raise RepairRefused(f"no projection named {name!r}")
    return row


def retry_parked(
    dsn: str, projection: Projection, decode: ValuesDecoder, aggregate_id: UUID | None = None
) -> Retried:
    """Apply a projection's parked events again (or those of one aggregate), in position
    order, each in a savepoint: an applied one leaves the queue; one that fails again
    keeps its place with its new error, and its aggregate's later events stay behind it.

    A projection stopped at a poison event by an older version is set running instead, so
    that the engine applies that event again, or parks it.
    """
    name = projection.name
    writer = ProjectionWriter(projection, decode)
    retried = Retried()
    with connect(dsn) as conn, conn.transaction():
        state = _lock(conn, name)
        if state["state"] == "stopped":
            conn.execute(
                "UPDATE chronicle_projections SET state = 'running', error = NULL,"
                " error_position = NULL, updated_at = now() WHERE name = %s",
                (name,),
            )
            retried.resumed = True
            return retried
        generation = state["generation"]
        parked = conn.execute(
            "SELECT position, aggregate_id FROM chronicle_parked WHERE name = %s"
            " AND generation = %s AND (%s::uuid IS NULL OR aggregate_id = %s)"
            " ORDER BY position FOR UPDATE",
            (name, generation, aggregate_id, aggregate_id),
        ).fetchall()
        if aggregate_id is not None and not parked:
            raise RepairRefused(f"no event of aggregate {aggregate_id} is parked for {name}")
        positions = [p["position"] for p in parked]
        events = {row[0]: row for row in writer.reader.read_at(conn, positions)}
        blocked: set[UUID] = set()
        for entry in parked:
            position, aggregate = entry["position"], entry["aggregate_id"]
            if aggregate in blocked:
                retried.still_parked.append(position)
                continue
            row = events.get(position)
            error = (
                writer.try_apply(conn, generation, row)
                if row is not None
                else LookupError(f"no event at position {position} in the log")
            )
            if error is None:
                conn.execute(
                    "DELETE FROM chronicle_parked WHERE name = %s AND generation = %s"
                    " AND position = %s",
                    (name, generation, position),
                )
                retried.applied.append(position)
            else:
                conn.execute(
                    "UPDATE chronicle_parked SET error_class = %s, error = %s"
                    " WHERE name = %s AND generation = %s AND position = %s",
                    (*describe(error), name, generation, position),
                )
                blocked.add(aggregate)
                retried.still_parked.append(position)
    return retried


def skip(dsn: str, name: str, position: int) -> Skipped:
    """Drop the event parked at ``position`` from a projection's queue, deliberately.

    A projection stopped at a poison event by an older version is moved past it instead.
    """
    with connect(dsn) as conn, conn.transaction():
        state = _lock(conn, name)
        if state["state"] == "stopped":
            return _skip_stopped(conn, name, position, state)
        generation = state["generation"]
        dropped = conn.execute(
            "DELETE FROM chronicle_parked WHERE name = %s AND generation = %s AND position = %s"
            " RETURNING aggregate_id, error_class",
            (name, generation, position),
        ).fetchone()
        if dropped is None:
            raise RepairRefused(f"no event of {name} is parked at position {position}")
        behind = conn.execute(
            "SELECT count(*) AS n FROM chronicle_parked WHERE name = %s AND generation = %s"
            " AND aggregate_id = %s",
            (name, generation, dropped["aggregate_id"]),
        ).fetchone()
        return Skipped(
            dropped["error_class"] or "parked behind an earlier event of its aggregate",
            dropped["aggregate_id"],
            int(behind["n"]) if behind else 0,
        )


def _skip_stopped(conn: Conn, name: str, position: int, state: dict[str, Any]) -> Skipped:
    """The skip of versions before parking: move the checkpoint past the poison event."""
    if state["error_position"] != position:
        raise RepairRefused(
            f"{name} is not stopped at position {position} (it is stopped at"
            f" {state['error_position']})"
        )
    conn.execute(
        "UPDATE chronicle_checkpoints SET position = %s WHERE name = %s AND generation = %s",
        (position, name, state["generation"]),
    )
    conn.execute(
        "UPDATE chronicle_projections SET state = 'running', error = NULL,"
        " error_position = NULL, updated_at = now() WHERE name = %s",
        (name,),
    )
    return Skipped(str(state["error"]))
