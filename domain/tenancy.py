"""Ownership by a tenant: the aggregates whose every event belongs to one tenant.

A plain marker with no I/O; the application checks it to keep tenants apart.
"""

from __future__ import annotations

# The operators' tenant: outside the names a tenant may take, so it never collides with one.
# Its keys (`chronicle keys create --tenant _system --scopes read,admin`) see the system's
# operational metrics and own the built-in alert rules.
SYSTEM_TENANT = "_system"


class TenantOwned:
    """An aggregate owned by one tenant, named once by its created event (``tenant_id``).

    Only that tenant's commands may load it or write its events. A mixin rather than an
    annotated aggregate base: the library makes an aggregate class with annotations a
    dataclass, with an ``__init__`` of its own.
    """

    tenant_id: str
