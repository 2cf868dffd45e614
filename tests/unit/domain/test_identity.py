"""Tenants and API keys as aggregates, without any I/O."""

from __future__ import annotations

import pytest

from domain.errors import ApiKeyAlreadyRevoked, InvalidValue
from domain.identity import SCOPES, ApiKey, Tenant


def test_a_tenant_id_is_derived_from_its_name() -> None:
    assert Tenant.create("acme").id == Tenant.create_id("acme") == Tenant.create("acme").id
    assert Tenant.create_id("acme") != Tenant.create_id("other")


@pytest.mark.parametrize("name", ["", "Acme", "a b", "-x", "x" * 64, "a.b"])
def test_tenant_names_are_subject_safe(name: str) -> None:
    with pytest.raises(InvalidValue):
        Tenant.create(name)


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
