"""How a group commit plans its rounds and reads its answers (no I/O)."""

from __future__ import annotations

import uuid

from eventsourcing.persistence import StoredEvent
from psycopg.sql import SQL, Identifier

from application.errors import ConcurrencyConflict, DuplicateReceipt
from infrastructure.batch_writer import (
    Answer,
    BatchStatements,
    PendingCommit,
    PendingReceipt,
    outcomes,
    rounds,
)

A, B, C = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def commit(*versions: tuple[uuid.UUID, int], key: str | None = None) -> PendingCommit:
    events = [
        StoredEvent(oid, v, "domain.conversation:Conversation.Renamed", b"{}")
        for oid, v in versions
    ]
    receipt = PendingReceipt("acme", key, "f", {}) if key else None
    return PendingCommit(events, receipt, "acme")


def test_commits_that_share_nothing_go_in_one_round() -> None:
    assert rounds([commit((A, 2)), commit((B, 5)), commit((C, 1), key="k")]) == [[0, 1, 2]]


def test_a_commit_touching_an_earlier_commits_aggregate_goes_in_a_later_round() -> None:
    batch = [commit((A, 2)), commit((B, 5)), commit((A, 2)), commit((C, 1)), commit((A, 3))]
    assert rounds(batch) == [[0, 1, 3], [2], [4]]


def test_a_commit_reusing_an_earlier_idempotency_key_goes_in_a_later_round() -> None:
    batch = [commit((A, 2), key="k"), commit((B, 1), key="k"), commit((C, 1), key="other")]
    assert rounds(batch) == [[0, 2], [1]]


def test_a_commit_of_several_aggregates_waits_for_every_earlier_one_it_shares() -> None:
    batch = [commit((A, 2)), commit((B, 2)), commit((B, 3)), commit((A, 3), (C, 1))]
    assert rounds(batch) == [[0, 1], [2, 3]]


def test_answers_become_positions_or_refusals() -> None:
    batch = [commit((A, 2), (A, 3)), commit((B, 5)), commit((C, 1), key="k")]
    rows: list[Answer] = [
        (0, 11, None),
        (0, 10, None),
        (1, None, "conflict"),
        (2, None, "duplicate"),
    ]
    done = outcomes(batch, rows)
    assert done[0] == [10, 11]
    assert isinstance(done[1], ConcurrencyConflict)
    assert isinstance(done[2], DuplicateReceipt)


def test_a_commit_answered_in_part_is_an_error_not_a_success() -> None:
    done = outcomes([commit((A, 2), (A, 3))], [(0, 10, None)])
    assert isinstance(done[0], RuntimeError)


class Tables:
    events = Identifier("chronicle_events")
    receipts = Identifier("chronicle_receipts")
    append_function = Identifier("chronicle_events_append")
    channel_name = "chronicle_events"
    lock_table_statements: list[SQL] = []


def test_the_call_numbers_each_event_with_its_commits_round() -> None:
    commits = [commit((A, 2)), commit((B, 1), (B, 2), key="k"), commit((A, 3)), commit((C, 1))]
    params = BatchStatements(Tables()).params(commits)
    members, ids, versions, _, _, tenants, event_rounds, receipt_members, *_ = params
    *_, last_ids, last_v, count = params
    assert members == [0, 1, 1, 2, 3]
    assert tenants == ["acme"] * 5
    assert ids == [A, B, B, A, C]
    assert versions == [2, 1, 2, 3, 1]
    assert event_rounds == [0, 0, 0, 1, 0]
    assert count == 2
    assert (receipt_members, last_ids, last_v) == ([1], [B], [2])
