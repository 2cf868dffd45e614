"""Tenant isolation on the write side: an aggregate is loaded and written only for its
own tenant.

Another tenant's aggregate is `NotFound`, exactly like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from eventsourcing.domain import Aggregate

from application.errors import NotFound
from application.ports import A, EventStore
from domain.tenancy import TenantOwned


class ForeignTenant(RuntimeError):
    """A command of one tenant tried to write an aggregate of another: a bug in a use
    case (each loads with `load_owned`), refused before anything is written."""


def load_owned(store: EventStore, aggregate_id: UUID, kind: type[A], tenant_id: str) -> A:
    """The tenant's aggregate of this kind; ``NotFound`` when absent or someone else's."""
    if not issubclass(kind, TenantOwned):
        raise TypeError(f"{kind.__name__} is not owned by a tenant")
    label = getattr(kind, "category", kind.__name__.lower())
    try:
        aggregate = store.get(aggregate_id, kind)
    except NotFound:
        raise NotFound(f"{label} {aggregate_id} not found") from None
    if not isinstance(aggregate, TenantOwned) or aggregate.tenant_id != tenant_id:
        raise NotFound(f"{label} {aggregate_id} not found")
    return aggregate


def check_owner(tenant_id: str, aggregates: Iterable[Aggregate]) -> None:
    """Refuse (`ForeignTenant`) a change of a command of ``tenant_id`` that holds another
    tenant's aggregate: the log files each event under its command's tenant."""
    for aggregate in aggregates:
        if isinstance(aggregate, TenantOwned) and aggregate.tenant_id != tenant_id:
            raise ForeignTenant(
                f"a command of tenant {tenant_id!r} cannot write {type(aggregate).__name__}"
                f" {aggregate.id} of tenant {aggregate.tenant_id!r}"
            )
