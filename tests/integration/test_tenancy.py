"""Write-side isolation at the commit seam: nothing of another tenant is written."""

from __future__ import annotations

import pytest

from application.context import CommandContext
from application.ports import Change
from application.tenancy import ForeignTenant
from domain.conversation import Conversation
from infrastructure.event_store import PostgresEventStore
from infrastructure.settings import Settings


def test_a_command_of_one_tenant_cannot_write_another_tenants_aggregate(
    scratch: Settings,
) -> None:
    store = PostgresEventStore(scratch)
    try:
        theirs = Conversation.start("zeta", "Theirs", [])
        with pytest.raises(ForeignTenant):
            store.portal.call(
                store.commit, CommandContext("acme", "t", "t"), Change((theirs,), theirs)
            )
        assert store.read_stream(theirs.id, 1, 10) == []
    finally:
        store.close()
