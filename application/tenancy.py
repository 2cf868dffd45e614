"""Tenant isolation on the write side: an aggregate is loaded only for its own tenant.

Another tenant's aggregate is `NotFound`, exactly like one that does not exist.
"""

from __future__ import annotations

from uuid import UUID

from application.errors import NotFound
from application.ports import A, EventStore


def load_owned(store: EventStore, aggregate_id: UUID, kind: type[A], tenant_id: str) -> A:
    """The tenant's aggregate of this kind; ``NotFound`` when absent or someone else's."""
    label = getattr(kind, "category", kind.__name__.lower())
    try:
        aggregate = store.get(aggregate_id, kind)
    except NotFound:
        raise NotFound(f"{label} {aggregate_id} not found") from None
    if getattr(aggregate, "tenant_id", None) != tenant_id:
        raise NotFound(f"{label} {aggregate_id} not found")
    return aggregate
