"""Personal data: which fields of which events (and of which aggregates' snapshots) are
personal, and the data subjects each value is bound to. Declared once, here; no I/O.

A data subject is a person (``user:<id>``) or a container whose owner stands behind it
(``conversation:<id>``, ``document:<id>``): erasing any subject a value is bound to makes
the value unreadable. The infrastructure encrypts what this module declares.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eventsourcing.domain import Aggregate

from domain.agent_run import AgentRun
from domain.conversation import Conversation
from domain.document import Document
from domain.people import Inbox
from domain.task import Task

# A subject of a value, from the event's (or snapshot's) fields and the aggregate's id and
# state: ``None`` when this value has no such subject.
SubjectOf = Callable[[Mapping[str, Any], Any, Mapping[str, Any]], str | None]


def subject(kind: str, value: Any) -> str:
    """The name of a data subject: ``kind:value``."""
    return f"{kind}:{value}"


def own(kind: str) -> SubjectOf:
    """The aggregate itself, as a subject of ``kind``."""
    return lambda fields, aggregate_id, state: subject(kind, aggregate_id)


def of_state(kind: str, attribute: str) -> SubjectOf:
    """The subject an attribute of the aggregate names (a run's conversation)."""

    def named(fields: Mapping[str, Any], aggregate_id: Any, state: Mapping[str, Any]) -> str | None:
        value = state.get(attribute)
        return None if value is None else subject(kind, value)

    return named


def of_field(kind: str, name: str, *, when: tuple[str, str] | None = None) -> SubjectOf:
    """The subject a field of the value's own event names, optionally only when another
    field has a given value (a message's author is a person only when its role is user)."""

    def named(fields: Mapping[str, Any], aggregate_id: Any, state: Mapping[str, Any]) -> str | None:
        if when is not None and fields.get(when[0]) != when[1]:
            return None
        value = fields.get(name)
        return None if value is None else subject(kind, value)

    return named


def named_by(name: str) -> SubjectOf:
    """The subject a field of the value's own event names whole (``user:ann``): a task's
    payload is personal data of the subject its submitter named, if any."""

    def named(fields: Mapping[str, Any], aggregate_id: Any, state: Mapping[str, Any]) -> str | None:
        value = fields.get(name)
        return None if value is None else str(value)

    return named


@dataclass(frozen=True)
class Personal:
    """Fields holding personal values, and the rules naming the subjects they are bound to."""

    fields: tuple[str, ...]
    subjects: tuple[SubjectOf, ...]

    def subjects_of(
        self, fields: Mapping[str, Any], aggregate_id: Any, state: Mapping[str, Any]
    ) -> tuple[str, ...]:
        """The value's subjects, each once, in a stable order."""
        if len(self.subjects) == 1:  # most values: no set to make, nothing to sort
            name = self.subjects[0](fields, aggregate_id, state)
            return () if name is None else (name,)
        named = {rule(fields, aggregate_id, state) for rule in self.subjects}
        return tuple(sorted(name for name in named if name is not None))


CONVERSATION = own("conversation")
DOCUMENT = own("document")
RUN_CONVERSATION = of_state("conversation", "conversation_id")
MESSAGE = Personal(
    ("content", "author"), (CONVERSATION, of_field("user", "author", when=("role", "user")))
)

# The personal fields of each aggregate's events, by event name. A field renamed by an
# upcast keeps its stored name here too: values are sealed under the names they are stored.
PERSONAL_EVENTS: dict[type[Aggregate], dict[str, Personal]] = {
    Conversation: {
        "ConversationStarted": Personal(("title",), (CONVERSATION,)),
        "ConversationRenamed": Personal(("title",), (CONVERSATION,)),
        "MessagePosted": MESSAGE,
    },
    AgentRun: {
        "AgentThought": Personal(("text",), (RUN_CONVERSATION,)),
        "ToolExecutionStarted": Personal(("arguments",), (RUN_CONVERSATION,)),
        "ToolExecutionCompleted": Personal(("result", "error"), (RUN_CONVERSATION,)),
        "AgentRunFailed": Personal(("error",), (RUN_CONVERSATION,)),
    },
    Document: {
        "DocumentCreated": Personal(("title", "content"), (DOCUMENT,)),
        "DocumentRenamed": Personal(("title",), (DOCUMENT,)),
        "OperationApplied": Personal(("op",), (DOCUMENT,)),
    },
    Task: {
        "TaskSubmitted": Personal(("payload",), (named_by("subject"),)),
    },
    Inbox: {
        "NotificationSent": Personal(("title", "body", "data"), (of_state("user", "user_id"),)),
    },
}

# The personal attributes of each aggregate's state, as its snapshots hold them.
PERSONAL_STATE: dict[type[Aggregate], Personal] = {
    Conversation: Personal(("title",), (CONVERSATION,)),
    Document: Personal(("title", "content"), (DOCUMENT,)),
}


def _by_class() -> dict[type[Any], Personal]:
    return {
        getattr(aggregate, name): personal
        for aggregate, events in PERSONAL_EVENTS.items()
        for name, personal in events.items()
    }


def _by_name() -> dict[tuple[str, str], Personal]:
    return {
        (str(getattr(aggregate, "category", "")), name): personal
        for aggregate, events in PERSONAL_EVENTS.items()
        for name, personal in events.items()
    }


BY_EVENT_CLASS = _by_class()
BY_CATEGORY_AND_NAME = _by_name()


def personal_event(event_class: type[Any]) -> Personal | None:
    """The personal fields of an event class, if it has any."""
    return BY_EVENT_CLASS.get(event_class)


def personal_named(category: str, name: str) -> Personal | None:
    """The personal fields of the events called ``name`` of a category's aggregates."""
    return BY_CATEGORY_AND_NAME.get((category, name))


def personal_state(aggregate_class: type[Any]) -> Personal | None:
    """The personal attributes of an aggregate's snapshots, if it has any."""
    return PERSONAL_STATE.get(aggregate_class)
