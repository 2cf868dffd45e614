"""Typed follower events mirror the domain events they are decoded from: a field renamed,
removed, added or retyped in the domain fails here, not in a running read model. Personal
fields may also be ``None`` (an erased subject's values decode so)."""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any

import pytest

from domain.privacy import personal_event
from projections.events import ENVELOPE, FOLLOWED, TYPED, Event
from projections.registry import PROJECTIONS

HEADERS = {"self", "originator_id", "originator_version", "timestamp", "originator_topic"}
PAIRS = [(domain, typed) for domain, typed in TYPED.items()]


def domain_fields(domain: type[Any]) -> dict[str, Any]:
    """The fields a domain event stores, with their types."""
    hints = typing.get_type_hints(domain)
    parameters = inspect.signature(domain.__init__).parameters
    return {name: hints[name] for name in parameters if name not in HEADERS}


def followed_fields(domain: type[Any]) -> dict[str, Any]:
    """The fields a follower decodes, with their types: a personal one may be ``None``."""
    personal = personal_event(domain)
    erasable = set(personal.fields) if personal else set()
    return {
        name: hint if name not in erasable or hint is Any else typing.Optional[hint]  # noqa: UP045
        for name, hint in domain_fields(domain).items()
    }


def typed_fields(typed: type[Event]) -> dict[str, Any]:
    hints = typing.get_type_hints(typed)
    return {name: hints[name] for name in typed.__struct_fields__ if name not in ENVELOPE}


def widened(hint: Any) -> Any:
    """A type with each `float` read as `int | float`, as type checkers read it."""
    if hint is float:
        return int | float
    arguments = typing.get_args(hint)
    if not arguments:
        return hint
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return typing.Union[tuple(widened(a) for a in arguments)]  # noqa: UP007
    return origin[tuple(widened(a) for a in arguments)]


@pytest.mark.parametrize(("domain", "typed"), PAIRS, ids=[t.__name__ for _, t in PAIRS])
def test_a_typed_event_has_its_domain_events_fields_and_types(
    domain: type[Any], typed: type[Event]
) -> None:
    expected = {name: widened(hint) for name, hint in followed_fields(domain).items()}
    actual = {name: widened(hint) for name, hint in typed_fields(typed).items()}
    assert actual == expected


def test_every_personal_field_of_a_followed_event_may_be_none() -> None:
    for domain, typed in PAIRS:
        personal = personal_event(domain)
        for name in personal.fields if personal else ():
            hint = typed_fields(typed)[name]
            assert hint is Any or type(None) in typing.get_args(hint), (typed.__name__, name)


@pytest.mark.parametrize(("domain", "typed"), PAIRS, ids=[t.__name__ for _, t in PAIRS])
def test_no_domain_field_is_taken_by_the_envelope(domain: type[Any], typed: type[Event]) -> None:
    assert not ENVELOPE & set(domain_fields(domain))


def test_each_typed_event_is_named_as_its_domain_event() -> None:
    for aggregate, events in FOLLOWED.items():
        for typed in events:
            assert getattr(aggregate, typed.__name__).__qualname__.endswith(f".{typed.__name__}")


def test_every_event_type_a_projection_reads_has_a_typed_event() -> None:
    typed_names = {typed.__name__ for typed in TYPED.values()}
    for projection in PROJECTIONS.values():
        assert (projection.event_types or set()) <= typed_names, projection.name
