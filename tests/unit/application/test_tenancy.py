"""Write-side isolation without a store: a change may hold only its tenant's aggregates."""

from __future__ import annotations

import pytest

from application.tenancy import ForeignTenant, check_owner
from domain.audit import AccessDenial
from domain.conversation import Conversation
from domain.identity import Tenant


def test_a_change_of_the_commands_own_tenant_passes() -> None:
    check_owner("acme", [Conversation.start("acme", "Plan", []), Tenant.create("acme")])


def test_another_tenants_aggregate_in_a_change_is_refused() -> None:
    ours, theirs = Conversation.start("acme", "Ours", []), Conversation.start("zeta", "Theirs", [])
    with pytest.raises(ForeignTenant, match="zeta"):
        check_owner("acme", [ours, theirs])


def test_an_aggregate_no_tenant_owns_goes_with_any_command() -> None:
    denial = AccessDenial("key:k", "k", "conversations.start", None, 403, "forbidden", "POST", "/")
    check_owner("acme", [denial])
