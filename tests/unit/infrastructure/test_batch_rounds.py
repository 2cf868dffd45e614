"""How a group commit plans its rounds and reads its answers (no I/O)."""

from __future__ import annotations

import uuid

from eventsourcing.persistence import StoredEvent

from application.errors import ConcurrencyConflict, DuplicateReceipt
from infrastructure.batch_writer import (
    Answer,
    PendingCommit,
    PendingReceipt,
    array,
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
    return PendingCommit(events, receipt)


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


def test_array_literals_join_their_elements() -> None:
    assert array(["1", "2"]) == "{1,2}"
    assert array([]) == "{}"
