"""Tamper evidence: a hash chain over the global log, and its verification.

Each link covers the previous link, the position and the stored event's bytes
(originator id, version, topic, state). The sealer follows the log and stores one link
per event (the head row is locked while it extends the chain, so sealers may run side
by side). Verification recomputes the chain from the first event and names the first
position where the log and the sealed links disagree: a changed byte, a deleted row,
or rows swapped.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from psycopg.sql import SQL, Identifier

from infrastructure.event_store import EVENTS_TABLE
from infrastructure.read_models import SETUP_LOCK, Conn, connect

log = structlog.get_logger(__name__)

GENESIS = bytes(32)
BATCH = 2000
CHAIN_DDL = (
    "CREATE TABLE IF NOT EXISTS chronicle_chain (position bigint PRIMARY KEY, link bytea NOT NULL)",
    "CREATE TABLE IF NOT EXISTS chronicle_chain_head (id smallint PRIMARY KEY CHECK (id = 1),"
    " position bigint NOT NULL, link bytea NOT NULL, sealed_at timestamptz NOT NULL DEFAULT now())",
    "INSERT INTO chronicle_chain_head (id, position, link) VALUES (1, 0, %s)"
    " ON CONFLICT DO NOTHING",
)
SELECT_EVENTS = SQL(
    "SELECT notification_id, originator_id, originator_version, topic, state FROM {0}"
    " WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
).format(Identifier(EVENTS_TABLE))


def link(previous: bytes, row: dict[str, Any]) -> bytes:
    """The chain link of one stored event."""
    digest = hashlib.sha256(previous)
    digest.update(row["notification_id"].to_bytes(8, "big"))
    digest.update(row["originator_id"].bytes)
    digest.update(row["originator_version"].to_bytes(8, "big"))
    digest.update(row["topic"].encode() + b"\0")
    digest.update(bytes(row["state"]))
    return digest.digest()


def ensure_chain(conn: Conn) -> None:
    """Create the chain tables (serialised with other set-up: IF NOT EXISTS races)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SETUP_LOCK,))
        for statement in CHAIN_DDL:
            conn.execute(statement, (GENESIS,) if "%s" in statement else None)


def seal(conn: Conn, batch: int = BATCH) -> int:
    """Extend the chain by up to ``batch`` events in one transaction; returns how many."""
    with conn.transaction():
        head = conn.execute(
            "SELECT position, link FROM chronicle_chain_head WHERE id = 1 FOR UPDATE"
        ).fetchone()
        assert head is not None
        rows = conn.execute(SELECT_EVENTS, (head["position"], batch)).fetchall()
        if not rows:
            return 0
        previous, links = bytes(head["link"]), []
        for row in rows:
            previous = link(previous, row)
            links.append((row["notification_id"], previous))
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO chronicle_chain (position, link) VALUES (%s, %s)", links
            )
        conn.execute(
            "UPDATE chronicle_chain_head SET position = %s, link = %s, sealed_at = now()"
            " WHERE id = 1",
            links[-1],
        )
        return len(rows)


class ChainSealer:
    """Keeps the chain sealed up to the head of the log, until stopped."""

    def __init__(self, dsn: str, poll_seconds: float = 1.0) -> None:
        self.dsn = dsn
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name="chain-sealer", daemon=True)

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                with connect(self.dsn) as conn:
                    ensure_chain(conn)
                    while not self._stop.is_set():
                        if seal(conn) < BATCH:
                            self._stop.wait(self.poll_seconds)
            except Exception as error:  # whatever it was, the thread must live and retry
                log.warning("chain sealer interrupted", error=f"{type(error).__name__}: {error}")
                self._stop.wait(1.0)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)


@dataclass(frozen=True)
class Verdict:
    """The outcome of a verification."""

    checked: int
    sealed_up_to: int
    broken_at: int | None = None
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def verify(dsn: str, progress: Callable[[int, int], None] = lambda done, total: None) -> Verdict:
    """Recompute the chain from the first event and compare it with the sealed links."""
    with connect(dsn) as conn:
        ensure_chain(conn)
        head = conn.execute("SELECT position FROM chronicle_chain_head WHERE id = 1").fetchone()
        sealed_up_to = int(head["position"]) if head else 0
        previous, after, checked = GENESIS, 0, 0
        while after < sealed_up_to:
            rows = conn.execute(SELECT_EVENTS, (after, BATCH)).fetchall()
            sealed = conn.execute(
                "SELECT position, link FROM chronicle_chain WHERE position > %s"
                " ORDER BY position LIMIT %s",
                (after, BATCH),
            ).fetchall()
            rows = [r for r in rows if r["notification_id"] <= sealed_up_to]
            for row, stored in zip(rows, sealed, strict=False):
                position = row["notification_id"]
                if stored["position"] < position:
                    return Verdict(
                        checked,
                        sealed_up_to,
                        stored["position"],
                        "the sealed event is missing (deleted)",
                    )
                if stored["position"] > position:
                    return Verdict(
                        checked, sealed_up_to, position, "an event that was never sealed appeared"
                    )
                previous = link(previous, row)
                if previous != bytes(stored["link"]):
                    return Verdict(
                        checked,
                        sealed_up_to,
                        position,
                        "the stored event differs from what was sealed",
                    )
                checked += 1
                after = position
            if len(rows) < len(sealed):
                missing = sealed[len(rows)]["position"]
                return Verdict(
                    checked, sealed_up_to, missing, "the sealed event is missing (deleted)"
                )
            if not rows:
                break
            progress(after, sealed_up_to)
        return Verdict(checked, sealed_up_to)
