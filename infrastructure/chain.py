"""Tamper evidence: a hash chain over the global log, and its verification.

Each link covers the previous link, the position and the stored event's bytes
(originator id, version, topic, state). The sealer follows the log
(``infrastructure.log_follower``) and stores one link per event (the head row is locked
while it extends the chain, so sealers may run side by side). Verification recomputes
the chain from the first event and names the first position where the log and the
sealed links disagree: a changed byte, a deleted row, or rows swapped.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infrastructure.event_log import EventRow, LogReader
from infrastructure.log_follower import LogFollower, Retrying
from infrastructure.read_models import SETUP_LOCK, Conn, connect

GENESIS = bytes(32)
BATCH = 2000
CHAIN_DDL = (
    "CREATE TABLE IF NOT EXISTS chronicle_chain (position bigint PRIMARY KEY, link bytea NOT NULL)",
    "CREATE TABLE IF NOT EXISTS chronicle_chain_head (id smallint PRIMARY KEY CHECK (id = 1),"
    " position bigint NOT NULL, link bytea NOT NULL, sealed_at timestamptz NOT NULL DEFAULT now())",
    "INSERT INTO chronicle_chain_head (id, position, link) VALUES (1, 0, %s)"
    " ON CONFLICT DO NOTHING",
)
LOG: LogReader[Any] = LogReader()  # rows only: the chain covers the stored bytes


def link(previous: bytes, row: EventRow) -> bytes:
    """The chain link of one stored event."""
    position, aggregate_id, version, topic, state, _ = row
    digest = hashlib.sha256(previous)
    digest.update(position.to_bytes(8, "big"))
    digest.update(aggregate_id.bytes)
    digest.update(version.to_bytes(8, "big"))
    digest.update(topic.encode() + b"\0")
    digest.update(state)
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
        rows = LOG.read(conn, head["position"], batch)
        if not rows:
            return 0
        previous, links = bytes(head["link"]), []
        for row in rows:
            previous = link(previous, row)
            links.append((row[0], previous))
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
        self.follower = LogFollower(dsn, Retrying("chain sealer"), poll_seconds=poll_seconds)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name="chain-sealer", daemon=True)

    def run(self) -> None:
        self.follower.run(self._stop, lambda conn: seal(conn) == BATCH, ensure_chain)

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
            rows = LOG.read(conn, after, BATCH)
            sealed = conn.execute(
                "SELECT position, link FROM chronicle_chain WHERE position > %s"
                " ORDER BY position LIMIT %s",
                (after, BATCH),
            ).fetchall()
            rows = [r for r in rows if r[0] <= sealed_up_to]
            for row, stored in zip(rows, sealed, strict=False):
                position = row[0]
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
