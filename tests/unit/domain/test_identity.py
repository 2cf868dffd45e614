"""Tenants and API keys as aggregates, without any I/O."""

from __future__ import annotations

import pytest

from domain.errors import ApiKeyAlreadyRevoked, InvalidValue
from domain.identity import SCOPES, ApiKey, Budget, Tenant
from domain.tenancy import SYSTEM_TENANT


def test_a_tenant_id_is_derived_from_its_name() -> None:
    assert Tenant.create("acme").id == Tenant.create_id("acme") == Tenant.create("acme").id
    assert Tenant.create_id("acme") != Tenant.create_id("other")


@pytest.mark.parametrize("name", ["", "Acme", "a b", "-x", "x" * 64, "a.b"])
def test_tenant_names_are_subject_safe(name: str) -> None:
    with pytest.raises(InvalidValue):
        Tenant.create(name)


def test_the_operators_tenant_is_the_one_name_outside_the_pattern() -> None:
    assert Tenant.create(SYSTEM_TENANT).name == "_system"
    assert ApiKey.issue(SYSTEM_TENANT, "ops", ["admin"], "d" * 64).tenant_id == SYSTEM_TENANT
    with pytest.raises(InvalidValue):
        Tenant.create("_other")


def test_a_key_holds_a_digest_and_its_scopes() -> None:
    key = ApiKey.issue("acme", "ci", ["read", "read", "admin"], "d" * 64)
    assert key.scopes == ["admin", "read"]
    assert key.secret_sha256 == "d" * 64
    assert not key.revoked


def test_the_scopes_are_the_designed_ones() -> None:
    assert set(SCOPES) >= {"commands:write", "read", "live:read", "admin"}


@pytest.mark.parametrize("scopes", [[], ["write"], ["read", "root"]])
def test_unknown_or_no_scopes_are_refused(scopes: list[str]) -> None:
    with pytest.raises(InvalidValue) as error:
        ApiKey.issue("acme", "ci", scopes, "d" * 64)
    assert error.value.field == "scopes"


def test_a_key_is_revoked_once() -> None:
    key = ApiKey.issue("acme", "ci", ["read"], "d" * 64)
    key.revoke("leaked")
    assert key.revoked
    with pytest.raises(ApiKeyAlreadyRevoked):
        key.revoke("again")


def test_a_rotated_key_inherits_everything_but_its_secret() -> None:
    key = ApiKey.issue("acme", "ci", ["read", "admin"], "d" * 64, rate_limit_per_minute=10)
    successor = key.successor("e" * 64)
    assert successor.id != key.id
    assert (successor.tenant_id, successor.name, successor.scopes) == ("acme", "ci", key.scopes)
    assert successor.rate_limit_per_minute == 10
    assert successor.rotated_from == str(key.id)
    assert successor.secret_sha256 == "e" * 64
    assert not key.revoked  # the old key stays valid until revoked


def test_a_revoked_key_cannot_be_rotated() -> None:
    key = ApiKey.issue("acme", "ci", ["read"], "d" * 64)
    key.revoke("leaked")
    with pytest.raises(ApiKeyAlreadyRevoked):
        key.successor("e" * 64)


def test_a_tenant_starts_unbounded_and_takes_a_budget() -> None:
    tenant = Tenant.create("acme")
    assert tenant.budget == Budget()
    assert not tenant.budget.exceeded_by(10**12, 10.0**9)
    tenant.set_budget(1000, None)
    assert tenant.budget == Budget(1000, None)
    assert not tenant.budget.exceeded_by(999, 1e6)
    assert tenant.budget.exceeded_by(1000, 0.0)


def test_a_cost_bound_is_reached_at_its_value() -> None:
    budget = Budget(None, 2.5)
    assert not budget.exceeded_by(10**9, 2.49)
    assert budget.exceeded_by(0, 2.5)


def test_a_tenant_budget_falls_back_to_the_default_per_bound() -> None:
    default = Budget(5000, 1.0)
    assert Budget(None, 3.0).or_else(default) == Budget(5000, 3.0)
    assert Budget().or_else(default) == default


@pytest.mark.parametrize(("tokens", "cost"), [(-1, None), (None, -0.01)])
def test_negative_budgets_are_refused(tokens: int | None, cost: float | None) -> None:
    with pytest.raises(InvalidValue):
        Tenant.create("acme").set_budget(tokens, cost)


def test_the_share_of_a_budget_used_is_the_larger_of_its_bounds() -> None:
    assert Budget(100, 2.0).used_ratio(50, 1.5) == 0.75
    assert Budget(None, 2.0).used_ratio(10**9, 1.0) == 0.5
    assert Budget(0, None).used_ratio(0, 0.0) == 1.0  # a bound of 0 is reached at once
    assert Budget().used_ratio(10, 1.0) is None


def test_a_tenant_sets_and_lifts_its_retention() -> None:
    tenant = Tenant.create("acme")
    assert tenant.retention_days is None
    tenant.set_retention(30)
    assert tenant.retention_days == 30
    tenant.set_retention(None)
    assert tenant.retention_days is None
    for days in (0, -1, 36_501):
        with pytest.raises(InvalidValue):
            tenant.set_retention(days)
