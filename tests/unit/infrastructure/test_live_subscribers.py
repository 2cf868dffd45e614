"""The live hub's subscriber index: an event meets exactly the subscribers that want it."""

from __future__ import annotations

import uuid

from infrastructure.live_hub import Filter, LiveEvent, Subscriber, Subscribers
from infrastructure.mailbox import Mailbox

A, B = str(uuid.uuid4()), str(uuid.uuid4())


def event(aggregate: str, tenant: str = "acme", kind: str = "message_posted") -> LiveEvent:
    return LiveEvent(1, tenant, "conversation", aggregate, kind, b"{}")


def subscriber(tenant: str, *filters: str) -> Subscriber:
    return Subscriber(tenant, tuple(Filter.parse(f) for f in filters), Mailbox(10))


def test_each_event_meets_exactly_the_subscribers_that_want_it() -> None:
    index = Subscribers()
    on_a = subscriber("acme", f"conversation.{A}")
    on_a_or_b = subscriber("acme", f"conversation.{A}", f"conversation.{B}")
    on_a_posts = subscriber("acme", f"conversation.{A}.message_posted")
    everything = subscriber("acme")
    runs = subscriber("acme", "run")
    mixed = subscriber("acme", f"conversation.{B}", "message_posted")
    stranger = subscriber("globex")
    stranger_on_a = subscriber("globex", f"conversation.{A}")
    subscribers = [on_a, on_a_or_b, on_a_posts, everything, runs, mixed, stranger, stranger_on_a]
    for s in subscribers:
        index.add(s)

    def met(e: LiveEvent) -> set[int]:
        wanting = index.wanting(e)
        assert len(wanting) == len(set(map(id, wanting)))  # nobody twice
        assert set(map(id, wanting)) == {id(s) for s in subscribers if s.wants(e)}
        return {subscribers.index(s) for s in wanting}

    assert met(event(A)) == {0, 1, 2, 3, 5}
    assert met(event(A, kind="title_changed")) == {0, 1, 3}
    assert met(event(B, kind="title_changed")) == {1, 3, 5}
    assert met(event(A, tenant="globex")) == {6, 7}
    assert len(index) == len(subscribers)


def test_a_discarded_subscriber_is_met_no_more() -> None:
    index = Subscribers()
    on_a, everything = subscriber("acme", f"conversation.{A}"), subscriber("acme")
    index.add(on_a)
    index.add(everything)
    index.discard(on_a)
    index.discard(on_a)  # twice is harmless
    assert index.wanting(event(A)) == [everything]
    index.discard(everything)
    assert index.wanting(event(A)) == [] and len(index) == 0
