"""A refused command as a fact, without any I/O."""

from __future__ import annotations

from domain.audit import DENIAL_REASONS, AccessDenial


def test_a_denial_records_who_tried_what_and_why() -> None:
    denial = AccessDenial(
        actor="key:abc",
        key_id="abc",
        command="conversation.post_message",
        target="4b1c",
        status=403,
        reason=DENIAL_REASONS[403],
        method="POST",
        path="/v1/conversations/4b1c/messages",
    )
    (event,) = denial.collect_events()
    assert type(event).__name__ == "AccessDenied"
    assert (denial.actor, denial.status, denial.reason) == ("key:abc", 403, "forbidden")
    assert denial.version == 1
