"""Keys and authentication, on the in-memory event store."""

from __future__ import annotations

import pytest

from application.commands import CommandRunner
from application.context import CommandContext
from application.errors import NotFound, OwnKeyRevocation, Unauthenticated
from application.identity import Identity
from domain.identity import ApiKey, Tenant
from tests.unit.application.memory import MemoryEventStore


def context(tenant: str = "operator", actor: str = "cli") -> CommandContext:
    return CommandContext(tenant, actor, "test")


@pytest.fixture
def store() -> MemoryEventStore:
    return MemoryEventStore()


@pytest.fixture
def identity(store: MemoryEventStore) -> Identity:
    return Identity(store, CommandRunner(store), cache_seconds=0)


async def test_the_first_key_of_a_tenant_creates_the_tenant_in_the_same_commit(
    store: MemoryEventStore, identity: Identity
) -> None:
    first = await identity.issue_key(context(), "acme", "ci", ["read", "commands:write"])
    await identity.issue_key(context(), "acme", "ops", ["admin"])

    assert store.types() == ["TenantCreated", "ApiKeyIssued", "ApiKeyIssued"]
    assert store.log[0].metadata["command_id"] == store.log[1].metadata["command_id"]
    assert store.get(Tenant.create_id("acme"), Tenant).name == "acme"
    principal = identity.authenticate(first.token)
    assert (principal.tenant_id, principal.key_id) == ("acme", str(first.key_id))
    assert principal.scopes == {"read", "commands:write"}


@pytest.mark.parametrize("token", ["", "nope", "chr_" + "0" * 32 + "_secret"])
def test_a_malformed_or_unknown_token_is_unauthenticated(identity: Identity, token: str) -> None:
    with pytest.raises(Unauthenticated):
        identity.authenticate(token)


async def test_a_wrong_secret_is_unauthenticated_though_the_key_exists(
    identity: Identity,
) -> None:
    issued = await identity.issue_key(context(), "acme", "ci", ["read"])
    forged = issued.token[: -len("x")] + ("y" if issued.token[-1] != "y" else "z")
    with pytest.raises(Unauthenticated):
        identity.authenticate(forged)
    assert identity.owner_of(forged) == ("acme", str(issued.key_id))


async def test_a_revoked_key_stops_authenticating_and_its_rotation_keeps_working(
    identity: Identity,
) -> None:
    old = await identity.issue_key(context(), "acme", "ci", ["read"], rate_limit_per_minute=60)
    new = await identity.rotate_key(context(), old.key_id)
    identity.authenticate(old.token)
    await identity.revoke_key(context(), old.key_id, "rotated")

    with pytest.raises(Unauthenticated):
        identity.authenticate(old.token)
    principal = identity.authenticate(new.token)
    assert (principal.rate_limit_per_minute, new.scopes) == (60, ("read",))
    assert identity.find_key(new.key_id).rotated_from == str(old.key_id)


async def test_a_tenant_revokes_its_own_keys_only_and_never_the_one_it_acts_with(
    store: MemoryEventStore, identity: Identity
) -> None:
    admin = await identity.issue_key(context(), "acme", "admin", ["admin"])
    other = await identity.issue_key(context(), "acme", "ci", ["read"])
    theirs = await identity.issue_key(context(), "globex", "ci", ["read"])
    acting = context("acme", f"key:{admin.key_id}")

    with pytest.raises(NotFound):
        await identity.revoke_key(acting, theirs.key_id, own=True)
    with pytest.raises(OwnKeyRevocation):
        await identity.revoke_key(acting, admin.key_id, own=True)
    await identity.revoke_key(acting, other.key_id, own=True)

    assert [k.revoked for k in identity.list_keys("acme")] == [False, True]
    assert not store.get(theirs.key_id, ApiKey).revoked


async def test_keys_are_listed_per_tenant(identity: Identity) -> None:
    await identity.issue_key(context(), "acme", "a", ["read"])
    await identity.issue_key(context(), "globex", "g", ["read"])
    assert [k.name for k in identity.list_keys("acme")] == ["a"]
    assert sorted(k.name for k in identity.list_keys()) == ["a", "g"]
