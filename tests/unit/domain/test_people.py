"""End users: ids derived per tenant, grants a user token may hold, revocations that
never move back."""

from __future__ import annotations

import pytest

from domain.errors import InvalidValue, NotificationNotUnread
from domain.people import Announcement, EndUser, Inbox, check_user_id


def test_a_users_id_is_its_tenants_own() -> None:
    assert EndUser.create_id("acme", "ada") == EndUser.create_id("acme", "ada")
    assert EndUser.create_id("acme", "ada") != EndUser.create_id("globex", "ada")


@pytest.mark.parametrize("user_id", ["", " ada", "ada lovelace", "-x", "a" * 129, "é"])
def test_a_user_id_is_a_plain_identifier(user_id: str) -> None:
    with pytest.raises(InvalidValue, match="user_id"):
        check_user_id(user_id)


def test_a_later_revocation_never_moves_the_bound_back() -> None:
    user = EndUser.add("acme", "ada@example.com")
    user.revoke_tokens(2_000)
    user.revoke_tokens(1_000)
    assert user.tokens_revoked_before == 2_000


def test_an_inbox_keeps_its_unread_notifications() -> None:
    inbox = Inbox.open("acme", "ada")
    inbox.send("n1", "mention", "one", "", {}, "low")
    inbox.send("n2", "mention", "two", "body", {"k": [1]}, "urgent")
    inbox.mark_read("n1")
    assert inbox.unread == ["n2"] and inbox.sent == 2
    with pytest.raises(NotificationNotUnread):
        inbox.mark_read("n1")
    with pytest.raises(NotificationNotUnread):
        inbox.mark_read("never-sent")


@pytest.mark.parametrize(
    ("kind", "title", "priority", "field"),
    [
        ("Mention", "t", "low", "kind"),
        ("mention", "", "low", "title"),
        ("mention", "t", "soon", "priority"),
    ],
)
def test_a_notification_it_cannot_keep_is_refused(
    kind: str, title: str, priority: str, field: str
) -> None:
    with pytest.raises(InvalidValue, match=field):
        Inbox.open("acme", "ada").send("n1", kind, title, "", {}, priority)


@pytest.mark.parametrize("data", [{"k": "a\u0000b"}, {"a\u0000": 1}, {"n": 2**64}])
def test_a_notification_whose_data_the_read_model_cannot_hold_is_refused(
    data: dict[str, object],
) -> None:
    with pytest.raises(InvalidValue, match="data"):
        Inbox.open("acme", "ada").send("n1", "mention", "t", "", data, "low")


def test_an_announcement_it_cannot_keep_is_refused() -> None:
    with pytest.raises(InvalidValue, match="priority"):
        Announcement.make("acme", "Down at 6", "", "eventually")
    assert Announcement.make("acme", "Down at 6", "", "urgent").title == "Down at 6"
