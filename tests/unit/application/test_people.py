"""User tokens on the in-memory event store: minted as recorded, verified without the
store, refused once revoked or their key retired (here and, through the log, in another
process)."""

from __future__ import annotations

import time
from uuid import uuid4

import jwt
import pytest

from application.commands import CommandRunner
from application.context import CommandContext, Idempotency
from application.errors import Unauthenticated
from application.people import TokenGrant, UserTokens
from domain.errors import InvalidValue
from domain.events import RecordedEvent
from infrastructure.user_tokens import TokenSigning
from tests.unit.application.memory import MemoryEventStore, MemorySecrets

SECRETS = MemorySecrets()  # one database's, for every deployment in these tests


class Clock:
    """Now, moved on by hand (tokens are checked against the real time too)."""

    def __init__(self) -> None:
        self.now = time.time() - 1

    def __call__(self) -> float:
        return self.now


class Log:
    """The store's log as the revocation reader reads it."""

    def __init__(self, store: MemoryEventStore) -> None:
        self.store = store

    def after(
        self, position: int, limit: int, tenant: str | None = None, event_type: str | None = None
    ) -> list[RecordedEvent]:
        events = [e for e in self.store.log if e.position > position]
        return [e for e in events if event_type in (None, e.type)][:limit]


def context(tenant: str = "acme", key: str | None = None) -> CommandContext:
    idempotency = Idempotency(key, "fingerprint") if key else None
    return CommandContext(tenant, "key:backend", "token.mint", idempotency=idempotency)


@pytest.fixture
def store() -> MemoryEventStore:
    return MemoryEventStore()


def tokens(store: MemoryEventStore, clock: Clock, secret: bytes = b"s" * 32) -> UserTokens:
    return UserTokens(store, CommandRunner(store), TokenSigning(secret, SECRETS), clock)


async def test_a_minted_token_is_recorded_and_names_what_it_allows(
    store: MemoryEventStore,
) -> None:
    clock, conversation = Clock(), uuid4()
    users = tokens(store, clock)
    minted, _ = await users.mint(
        context(), TokenGrant("ada", ["live:read", "live:read"], [conversation], ttl_s=60)
    )
    assert store.types() == ["EndUserAdded", "UserTokenIssued"]
    issued = store.log[-1].data
    assert issued["expires_at"] - issued["issued_at"] == 60_000 and "token" not in issued
    principal = users.principal(minted.token)
    assert (principal.tenant_id, principal.user_id, principal.actor) == ("acme", "ada", "user:ada")
    assert principal.scopes == {"live:read"}
    assert principal.conversations == {str(conversation)} and principal.documents == set()
    assert minted.expires_at == pytest.approx(clock.now + 60, abs=0.001)


async def test_a_replayed_mint_signs_the_same_token(store: MemoryEventStore) -> None:
    clock = Clock()
    users = tokens(store, clock)
    first, _ = await users.mint(context(key="k1"), TokenGrant("ada", ["live:read"]))
    clock.now += 5
    again, result = await users.mint(context(key="k1"), TokenGrant("ada", ["live:read"]))
    assert result.replayed and again == first
    assert store.types().count("UserTokenIssued") == 1


@pytest.mark.parametrize(
    ("grant", "field"),
    [
        (TokenGrant("no spaces", ["live:read"]), "user_id"),
        (TokenGrant("ada", ["tokens:write"]), "scopes"),
        (TokenGrant("ada", []), "scopes"),
        (TokenGrant("ada", ["live:read"], ttl_s=86_401), "ttl_s"),
        (TokenGrant("ada", ["live:read"], [uuid4() for _ in range(101)]), "conversations"),
    ],
)
async def test_a_grant_beyond_what_a_user_token_may_hold_is_refused(
    store: MemoryEventStore, grant: TokenGrant, field: str
) -> None:
    with pytest.raises(InvalidValue) as refused:
        await tokens(store, Clock()).mint(context(), grant)
    assert refused.value.field == field and store.log == []


async def test_revoking_refuses_earlier_tokens_only(store: MemoryEventStore) -> None:
    clock = Clock()
    users = tokens(store, clock)
    old, _ = await users.mint(context(), TokenGrant("ada", ["live:read"]))
    other, _ = await users.mint(context(), TokenGrant("bob", ["live:read"]))
    clock.now += 0.001
    await users.revoke(context(), "ada")
    with pytest.raises(Unauthenticated, match="revoked"):
        users.principal(old.token)
    assert users.principal(other.token).user_id == "bob"
    clock.now += 0.002
    fresh, _ = await users.mint(context(), TokenGrant("ada", ["live:read"]))
    assert users.principal(fresh.token).user_id == "ada"


async def test_another_process_learns_revocations_from_the_log(store: MemoryEventStore) -> None:
    clock = Clock()
    here, there = tokens(store, clock), tokens(store, clock)
    minted, _ = await here.mint(context(), TokenGrant("ada", ["live:read"]))
    assert there.principal(minted.token).user_id == "ada"
    clock.now += 0.001
    await here.revoke(context(), "ada")
    there.catch_up(Log(store))
    with pytest.raises(Unauthenticated, match="revoked"):
        there.principal(minted.token)


async def test_the_same_user_id_of_another_tenant_is_not_revoked(
    store: MemoryEventStore,
) -> None:
    clock = Clock()
    users = tokens(store, clock)
    theirs, _ = await users.mint(context("globex"), TokenGrant("ada", ["live:read"]))
    clock.now += 0.001
    await users.revoke(context("acme"), "ada")
    assert users.principal(theirs.token).tenant_id == "globex"


async def test_a_token_of_another_deployment_is_refused(store: MemoryEventStore) -> None:
    clock = Clock()
    minted, _ = await tokens(store, clock).mint(context(), TokenGrant("ada", ["live:read"]))
    with pytest.raises(Unauthenticated, match="wrongly signed"):
        tokens(store, clock, b"t" * 32).principal(minted.token)


async def test_a_rotated_key_signs_from_then_on_and_the_previous_verifies_until_expiry(
    store: MemoryEventStore,
) -> None:
    clock = Clock()
    here, there = tokens(store, clock), tokens(store, clock)
    old, _ = await here.mint(context(), TokenGrant("ada", ["live:read"], ttl_s=600))
    _, rotation = await here.rotate(context(), "at_expiry")
    assert rotation.version == 2
    assert rotation.previous_until == pytest.approx(clock.now + 86_400, abs=0.001)
    assert store.types()[-2:] == ["TokenKeysOpened", "TokenKeyRotated"]
    new, _ = await there.mint(context(), TokenGrant("bob", ["live:read"]))  # reads the version
    assert store.log[-1].data["key_version"] == 2
    assert jwt.get_unverified_header(new.token)["kid"] == "acme/2"
    assert here.principal(new.token).user_id == there.principal(new.token).user_id == "bob"
    assert here.principal(old.token).user_id == "ada"
    clock.now += 86_400
    with pytest.raises(Unauthenticated, match="retired key"):
        here.principal(old.token)
    elsewhere = tokens(store, clock)
    assert elsewhere.principal(old.token).user_id == "ada"  # until it reads the log
    elsewhere.catch_up(Log(store))
    with pytest.raises(Unauthenticated, match="retired key"):
        elsewhere.principal(old.token)
    assert elsewhere.principal(new.token).user_id == "bob"


async def test_a_key_retired_now_refuses_its_tokens_at_once_everywhere(
    store: MemoryEventStore,
) -> None:
    clock = Clock()
    here, there = tokens(store, clock), tokens(store, clock)
    old, _ = await here.mint(context(), TokenGrant("ada", ["live:read"]))
    theirs, _ = await here.mint(context("globex"), TokenGrant("ada", ["live:read"]))
    await here.rotate(context(), "at_expiry")
    second, _ = await here.mint(context(), TokenGrant("ada", ["live:read"]))
    _, rotation = await here.rotate(context(key="r1"), "now")
    _, again = await here.rotate(context(key="r1"), "now")
    assert rotation == again and rotation.version == 3
    there.catch_up(Log(store))
    for process in (here, there):
        for token in (old.token, second.token):
            with pytest.raises(Unauthenticated, match="retired key"):
                process.principal(token)
        assert process.principal(theirs.token).tenant_id == "globex"
    third, _ = await there.mint(context(), TokenGrant("ada", ["live:read"]))
    assert here.principal(third.token).user_id == "ada"


async def test_a_retirement_is_kept_whatever_order_the_rotations_are_learned_in(
    store: MemoryEventStore,
) -> None:
    clock = Clock()
    here, late = tokens(store, clock), tokens(store, clock)
    first, _ = await here.mint(context(), TokenGrant("ada", ["live:read"]))
    await here.rotate(context(), "now")
    await late.rotate(context(), "at_expiry")  # before it has read of the first rotation
    assert late.principal(first.token).user_id == "ada"
    late.catch_up(Log(store))
    with pytest.raises(Unauthenticated, match="retired key"):
        late.principal(first.token)
