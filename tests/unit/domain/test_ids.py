"""Ids of new aggregates: unique, UUIDv7, in order of creation; derived ids stay derived."""

from __future__ import annotations

from domain.agent_run import AgentRun
from domain.audit import AccessDenial
from domain.conversation import Conversation
from domain.identity import ApiKey, Tenant
from domain.ids import TimeOrderedAggregate, new_id
from domain.task import Task


def test_new_ids_are_version_7_unique_and_in_order_of_creation() -> None:
    ids = [new_id() for _ in range(10_000)]
    assert {i.version for i in ids} == {7}
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)


def test_aggregates_created_one_after_another_get_ascending_v7_ids() -> None:
    first = Conversation.start("acme", "first", [])
    second = Conversation.start("acme", "second", [])
    assert first.id.version == second.id.version == 7
    assert first.id < second.id


def test_every_aggregate_with_a_fresh_identity_takes_a_time_ordered_one() -> None:
    for kind in (AgentRun, AccessDenial, Conversation, ApiKey, Task):
        assert issubclass(kind, TimeOrderedAggregate), kind
    # A tenant's id is derived from its name, so one name is always one tenant.
    assert Tenant.create_id("acme") == Tenant.create_id("acme")
    assert Tenant.create_id("acme").version == 5
