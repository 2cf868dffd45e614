"""The declaration of personal data: which fields are personal, bound to which subjects."""

from __future__ import annotations

import typing
import uuid
from typing import Any

import pytest

from domain.agent_run import AgentRun
from domain.conversation import Conversation
from domain.document import Document
from domain.people import Inbox
from domain.privacy import (
    PERSONAL_EVENTS,
    PERSONAL_STATE,
    personal_event,
    personal_named,
    personal_state,
)

CONVERSATION_ID = uuid.UUID("0190f000-0000-7000-8000-000000000001")
DECLARED = [(a, name) for a, events in PERSONAL_EVENTS.items() for name in events]


@pytest.mark.parametrize(("aggregate", "name"), DECLARED)
def test_each_declared_field_is_a_field_of_its_event(aggregate: type[Any], name: str) -> None:
    event_class = getattr(aggregate, name)
    fields = typing.get_type_hints(event_class)
    assert set(PERSONAL_EVENTS[aggregate][name].fields) <= set(fields)


@pytest.mark.parametrize(("aggregate", "name"), DECLARED)
def test_each_declared_event_is_found_by_class_and_by_name(aggregate: type[Any], name: str) -> None:
    declared = PERSONAL_EVENTS[aggregate][name]
    assert personal_event(getattr(aggregate, name)) is declared
    assert personal_named(aggregate.category, name) is declared


def test_a_snapshot_keeps_personal_attributes_sealed_where_the_aggregate_holds_them() -> None:
    conversation = Conversation.start("acme", "Secret plans", [])
    document = Document.create("acme", "Pad", "text")
    for aggregate in (conversation, document):
        declared = personal_state(type(aggregate))
        assert declared is not None and set(declared.fields) <= set(vars(aggregate))
    assert set(PERSONAL_STATE) == {Conversation, Document}


def test_a_users_message_is_bound_to_its_conversation_and_its_author() -> None:
    message = personal_named("conversation", "MessagePosted")
    assert message is not None and message.fields == ("content", "author")
    fields = {"author": "ada", "role": "user", "content": "hi"}
    assert message.subjects_of(fields, CONVERSATION_ID, {}) == (
        f"conversation:{CONVERSATION_ID}",
        "user:ada",
    )


def test_an_assistants_message_is_bound_to_its_conversation_alone() -> None:
    message = personal_named("conversation", "MessagePosted")
    assert message is not None
    fields = {"author": "gpt", "role": "assistant", "content": "hello"}
    assert message.subjects_of(fields, CONVERSATION_ID, {}) == (f"conversation:{CONVERSATION_ID}",)


def test_an_agents_steps_are_bound_to_the_conversation_of_its_run() -> None:
    run = AgentRun.begin("acme", CONVERSATION_ID, "planner", "model", None)
    for name in ("AgentThought", "ToolExecutionStarted", "ToolExecutionCompleted"):
        declared = personal_event(getattr(AgentRun, name))
        assert declared is not None
        assert declared.subjects_of({}, run.id, vars(run)) == (f"conversation:{CONVERSATION_ID}",)


def test_a_notification_is_bound_to_the_user_it_is_sent_to() -> None:
    inbox = Inbox.open("acme", "ada")
    declared = personal_named("user", "NotificationSent")
    assert declared is not None and set(declared.fields) == {"title", "body", "data"}
    assert declared.subjects_of({}, inbox.id, vars(inbox)) == ("user:ada",)


def test_events_without_personal_data_are_not_declared() -> None:
    assert personal_event(Conversation.ConversationArchived) is None  # type: ignore[attr-defined]
    assert personal_named("conversation", "ConversationArchived") is None
    assert personal_state(AgentRun) is None
