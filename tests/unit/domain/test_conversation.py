"""The Conversation aggregate's rules, without any I/O."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from domain.conversation import CONTENT_MAX_CHARS, Conversation
from domain.errors import ConversationIsArchived, InvalidValue


def started(title: str = "Planning") -> Conversation:
    return Conversation.start("acme", title, ["ada"])


def test_starting_records_title_participants_and_tenant() -> None:
    conversation = started()
    assert (conversation.title, conversation.participants) == ("Planning", ["ada"])
    assert conversation.tenant_id == "acme"
    assert conversation.version == 1
    assert [type(e).__name__ for e in conversation.collect_events()] == ["ConversationStarted"]


@pytest.mark.parametrize("title", ["", " ", "x" * 201])
def test_a_title_must_be_1_to_200_characters(title: str) -> None:
    with pytest.raises(InvalidValue) as error:
        started(title)
    assert error.value.field == "title"


def test_a_title_of_200_characters_is_accepted() -> None:
    assert started("x" * 200).title == "x" * 200


@pytest.mark.parametrize("role", ["user", "assistant", "system", "tool"])
def test_each_role_may_post(role: str) -> None:
    conversation = started()
    conversation.post_message(uuid.uuid4(), role, "hello", None, 3)
    assert conversation.message_count == 1
    assert conversation.version == 2


def test_a_message_is_plain_text_unless_its_content_type_says_otherwise() -> None:
    conversation = started()
    conversation.post_message(uuid.uuid4(), "user", "hi", None, None)
    conversation.post_message(uuid.uuid4(), "assistant", "*hi*", None, None, "text/markdown")
    posted = conversation.collect_events()[1:]
    assert [vars(event)["content_type"] for event in posted] == ["text/plain", "text/markdown"]


@pytest.mark.parametrize("content_type", ["", "text", "Text/Plain", "text/plain; charset=utf-8"])
def test_a_content_type_must_be_a_lower_case_media_type(content_type: str) -> None:
    with pytest.raises(InvalidValue) as error:
        started().post_message(uuid.uuid4(), "user", "hi", None, None, content_type)
    assert error.value.field == "content_type"


def test_a_message_posted_before_content_types_reads_as_plain_text() -> None:
    state = {"message_id": uuid.uuid4(), "author": "a", "role": "user", "content": "hi"}
    Conversation.MessagePosted.upcast_v1_v2(state)
    assert state["content_type"] == "text/plain"


def test_an_unknown_role_is_refused() -> None:
    with pytest.raises(InvalidValue) as error:
        started().post_message(uuid.uuid4(), "bot", "hello", None, None)
    assert error.value.field == "role"


@pytest.mark.parametrize(
    "content", ["", "x" * (CONTENT_MAX_CHARS + 1), "é" * (CONTENT_MAX_CHARS + 1)]
)
def test_content_must_be_1_to_65536_characters(content: str) -> None:
    with pytest.raises(InvalidValue) as error:
        started().post_message(uuid.uuid4(), "user", content, None, None)
    assert error.value.field == "content"


def test_content_of_exactly_65536_characters_is_accepted_whatever_their_bytes() -> None:
    conversation = started()
    conversation.post_message(uuid.uuid4(), "user", "é" * CONTENT_MAX_CHARS, None, None)
    assert conversation.message_count == 1


NUL_CASES: dict[str, Callable[[], object]] = {
    "title": lambda: started("a\x00b"),
    "participants": lambda: Conversation.start("acme", "t", ["a\x00"]),
    "content": lambda: started().post_message(uuid.uuid4(), "user", "a\x00", None, None),
    "author": lambda: started().post_message(uuid.uuid4(), "user", "hi", "a\x00", None),
}


@pytest.mark.parametrize("field", NUL_CASES)
def test_nul_characters_are_refused_everywhere(field: str) -> None:
    with pytest.raises(InvalidValue) as error:
        NUL_CASES[field]()
    assert error.value.field == field


@pytest.mark.parametrize("tokens", [-1, 2**31, 2**63, True])
def test_tokens_must_fit_an_integer_column(tokens: int) -> None:
    with pytest.raises(InvalidValue) as error:
        started().post_message(uuid.uuid4(), "user", "hi", None, tokens)
    assert error.value.field == "tokens"


def test_the_largest_token_count_is_accepted() -> None:
    conversation = started()
    conversation.post_message(uuid.uuid4(), "user", "hi", None, 2**31 - 1)
    assert conversation.message_count == 1


def test_the_author_defaults_to_the_role() -> None:
    conversation = started()
    conversation.collect_events()
    conversation.post_message(uuid.uuid4(), "assistant", "hi", None, None)
    (posted,) = conversation.collect_events()
    assert vars(posted)["author"] == "assistant"


def test_rename_changes_the_title() -> None:
    conversation = started()
    conversation.rename("Retro")
    assert conversation.title == "Retro"


def test_an_archived_conversation_refuses_posts_renames_and_archiving() -> None:
    conversation = started()
    conversation.archive()
    assert conversation.archived
    with pytest.raises(ConversationIsArchived):
        conversation.post_message(uuid.uuid4(), "user", "hi", None, None)
    with pytest.raises(ConversationIsArchived):
        conversation.rename("Later")
    with pytest.raises(ConversationIsArchived):
        conversation.archive()


def test_a_refused_command_triggers_no_event() -> None:
    conversation = started()
    conversation.collect_events()
    with pytest.raises(InvalidValue):
        conversation.post_message(uuid.uuid4(), "user", "", None, None)
    assert conversation.collect_events() == []
    assert conversation.version == 1
