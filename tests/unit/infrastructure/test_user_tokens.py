"""User tokens as JWTs: HS256 only, a key per tenant and version, every malformed claim
refused."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from application.errors import Unauthenticated
from infrastructure.user_tokens import TokenSigning
from tests.unit.application.memory import MemorySecrets

SIGNING = TokenSigning(b"k" * 32, MemorySecrets())


def claims(**changes: Any) -> dict[str, Any]:
    now = time.time()
    base = {
        "sub": "ada",
        "tenant": "acme",
        "jti": "t1",
        "iat": now,
        "nbf": now,
        "exp": now + 60,
        "scope": "live:read",
        "conversations": [],
        "documents": [],
    }
    return {**base, **changes}


def test_a_token_verifies_with_its_tenants_key_only() -> None:
    token = SIGNING.sign("acme", 1, claims())
    verified, version = SIGNING.verify(token)
    assert (verified["sub"], version) == ("ada", 1)
    assert jwt.get_unverified_header(token)["kid"] == "acme/1"
    key_of_acme = TokenSigning(b"k" * 32, MemorySecrets())
    key_of_acme.prepare("acme", 1)
    posing = jwt.encode(
        claims(tenant="globex"),
        key_of_acme._known("acme", 1) or b"",  # acme's key, under globex's name
        "HS256",
        headers={"kid": "globex/1"},
    )
    with pytest.raises(Unauthenticated, match="wrongly signed"):
        SIGNING.verify(posing)


def test_a_rotated_key_is_a_stored_secret_and_verifies_once_prepared() -> None:
    kept = MemorySecrets()
    signing, elsewhere = TokenSigning(b"k" * 32, kept), TokenSigning(b"k" * 32, kept)
    signing.prepare("acme", 2)
    assert list(kept.kept) == ["user-tokens/acme/2"]
    token = signing.sign("acme", 2, claims())
    assert jwt.get_unverified_header(token)["kid"] == "acme/2"
    assert signing.verify(token)[1] == 2
    with pytest.raises(Unauthenticated, match="key this deployment does not know"):
        elsewhere.verify(token)  # it has not learned of the rotation yet
    elsewhere.prepare("acme", 2)
    assert elsewhere.verify(token)[1] == 2
    with pytest.raises(LookupError):
        signing.sign("acme", 3, claims())


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (lambda: SIGNING.sign("acme", 1, claims(exp=time.time() - 1)), "expired"),
        (lambda: SIGNING.sign("acme", 1, claims(nbf=time.time() + 60)), "not yet valid"),
        (
            lambda: TokenSigning(b"x" * 32, MemorySecrets()).sign("acme", 1, claims()),
            "wrongly signed",
        ),
        (lambda: SIGNING.sign("acme", 1, claims(tenant="globex")), "malformed"),
        (lambda: SIGNING.sign("acme", 1, claims(conversations="all")), "malformed"),
        (lambda: SIGNING.sign("acme", 1, claims(scope=["live:read"])), "malformed"),
        (
            lambda: SIGNING.sign("acme", 1, {k: v for k, v in claims().items() if k != "jti"}),
            "malformed",
        ),
        (
            lambda: jwt.encode(claims(), None, "none", headers={"kid": "acme/1"}),  # type: ignore[arg-type]
            "HS256",
        ),
        (lambda: jwt.encode(claims(), "k" * 64, "HS512", headers={"kid": "acme/1"}), "HS256"),
        (lambda: jwt.encode(claims(), "k" * 32, "HS256", headers={"kid": "acme/2"}), "key"),
        (lambda: jwt.encode(claims(), "k" * 32, "HS256", headers={"kid": "Bad Tenant/1"}), "key"),
        (lambda: jwt.encode(claims(), "k" * 32, "HS256", headers={"kid": "acme/\u00b2"}), "key"),
        (lambda: jwt.encode(claims(), "k" * 32, "HS256", headers={"kid": "acme/0"}), "key"),
        (
            lambda: jwt.encode(claims(), "k" * 32, "HS256", headers={"kid": "acme/" + "9" * 10}),
            "key",
        ),
        (lambda: "not.a.token", "malformed"),
    ],
)
def test_a_bad_token_is_unauthenticated(token: Any, message: str) -> None:
    with pytest.raises(Unauthenticated, match=message):
        SIGNING.verify(token())
