"""The record of an erasure: named by tenant and subject, checked, repeatable."""

from __future__ import annotations

import pytest

from domain.erasure import DataSubject, check_subject
from domain.errors import InvalidValue


def test_an_erasure_is_recorded_with_who_and_why_under_the_subjects_own_id() -> None:
    named = DataSubject.erase_first("acme", "user:ann", "she asked", "key:k1")
    _created, erased = named.collect_events()
    assert type(erased).__name__ == "SubjectErased"
    assert (erased.tenant_id, erased.subject, erased.reason, erased.by) == (  # type: ignore[attr-defined]
        "acme",
        "user:ann",
        "she asked",
        "key:k1",
    )
    assert named.id == DataSubject.create_id("acme", "user:ann")
    assert named.id != DataSubject.create_id("other", "user:ann")
    named.erase("again", "retention")
    assert named.erasures == 2


@pytest.mark.parametrize(
    "subject",
    ["ann", "user:", "person:ann", "user:ann\tsmith", "user:a/b", "conversation:" + "x" * 201],
)
def test_a_subject_is_kind_colon_id(subject: str) -> None:
    check_subject("user:Ann Smith")  # an author's name, as posted with a key
    with pytest.raises(InvalidValue):
        check_subject(subject)


@pytest.mark.parametrize("reason", ["", "x" * 501, "nul\x00"])
def test_an_erasure_needs_a_reason(reason: str) -> None:
    with pytest.raises(InvalidValue):
        DataSubject.erase_first("acme", "document:d1", reason, "key:k1")
