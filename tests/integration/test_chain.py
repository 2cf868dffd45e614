"""Tamper evidence on real PostgreSQL: a changed byte, a deleted row and swapped rows
are each detected, at the right position."""

from __future__ import annotations

import json
import subprocess
import time

import psycopg
import pytest

from api.bootstrap import Container
from application.context import CommandContext
from infrastructure.chain import ChainSealer, ensure_chain, seal, verify
from infrastructure.event_store import EVENTS_TABLE
from infrastructure.read_models import connect
from infrastructure.settings import Settings
from tests.integration.cli import run_cli


@pytest.fixture
async def sealed(scratch: Settings) -> tuple[str, list[int]]:
    """A scratch log of 12 events, sealed; yields its DSN and positions."""
    container = Container.build(scratch)
    try:
        ctx = CommandContext("acme", "test", "t")
        positions = []
        for i in range(3):
            started = await container.conversations.start(ctx, f"c{i}", [])
            positions.append(started.position)
            for j in range(3):
                posted = await container.conversations.post_message(
                    ctx, started.id, role="user", content=f"{i}.{j}"
                )
                positions.append(posted.position)
    finally:
        container.close()
    dsn = scratch.database_url or ""
    with connect(dsn) as conn:
        ensure_chain(conn)
        while seal(conn, batch=5):
            pass
    return dsn, positions


def audit(dsn: str, master_key: str | None) -> subprocess.CompletedProcess[str]:
    return run_cli(Settings(database_url=dsn, master_key=master_key), "audit", "verify", "--json")


def test_an_untouched_log_verifies(sealed: tuple[str, list[int]], servers: Settings) -> None:
    dsn, positions = sealed
    verdict = verify(dsn)
    assert verdict.intact and verdict.sealed_up_to >= positions[-1]
    result = audit(dsn, servers.master_key)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["intact"] is True


def test_a_changed_byte_is_found_at_its_position(
    sealed: tuple[str, list[int]], servers: Settings
) -> None:
    dsn, positions = sealed
    target = positions[5]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"UPDATE {EVENTS_TABLE} SET state = overlay(state placing '\\x41'::bytea from 20 for 1)"  # noqa: S608
            " WHERE notification_id = %s",
            (target,),
        )
    assert verify(dsn).broken_at == target
    result = audit(dsn, servers.master_key)
    assert result.returncode != 0 and json.loads(result.stdout)["broken_at"] == target
    assert f"breaks at position {target}" in result.stderr


def test_a_deleted_row_is_found(sealed: tuple[str, list[int]]) -> None:
    dsn, positions = sealed
    target = positions[7]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DELETE FROM {EVENTS_TABLE} WHERE notification_id = %s", (target,))  # noqa: S608
    verdict = verify(dsn)
    assert verdict.broken_at == target and "deleted" in verdict.reason


def test_swapped_rows_are_found(sealed: tuple[str, list[int]]) -> None:
    dsn, positions = sealed
    first, second = positions[2], positions[3]
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        conn.execute(
            f"UPDATE {EVENTS_TABLE} AS e SET state = o.state FROM {EVENTS_TABLE} AS o"  # noqa: S608
            " WHERE (e.notification_id, o.notification_id) IN ((%s, %s), (%s, %s))",
            (first, second, second, first),
        )
    assert verify(dsn).broken_at == first


async def test_the_sealer_follows_the_log(scratch: Settings) -> None:
    container = Container.build(scratch)
    sealer = ChainSealer(container.dsn, poll_seconds=0.1)
    sealer.start()
    try:
        result = await container.conversations.start(CommandContext("acme", "t", "t"), "x", [])
        deadline = time.monotonic() + 10
        while verify(container.dsn).sealed_up_to < result.position and time.monotonic() < deadline:
            time.sleep(0.1)
        assert verify(container.dsn).sealed_up_to >= result.position
    finally:
        sealer.stop()
        container.close()
