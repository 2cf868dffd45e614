"""User tokens as JWTs: HS256 only, a key per tenant, every malformed claim refused."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from application.errors import Unauthenticated
from infrastructure.user_tokens import TokenSigning

SIGNING = TokenSigning(b"k" * 32)


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
    token = SIGNING.sign("acme", claims())
    assert SIGNING.verify(token)["sub"] == "ada"
    assert jwt.get_unverified_header(token)["kid"] == "acme/1"
    assert SIGNING.key("acme") != SIGNING.key("globex")


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (lambda: SIGNING.sign("acme", claims(exp=time.time() - 1)), "expired"),
        (lambda: SIGNING.sign("acme", claims(nbf=time.time() + 60)), "not yet valid"),
        (lambda: TokenSigning(b"x" * 32).sign("acme", claims()), "wrongly signed"),
        (lambda: SIGNING.sign("acme", claims(tenant="globex")), "malformed"),
        (lambda: SIGNING.sign("acme", claims(conversations="all")), "malformed"),
        (lambda: SIGNING.sign("acme", claims(scope=["live:read"])), "malformed"),
        (
            lambda: SIGNING.sign("acme", {k: v for k, v in claims().items() if k != "jti"}),
            "malformed",
        ),
        (lambda: jwt.encode(claims(), None, "none", headers={"kid": "acme/1"}), "HS256"),
        (lambda: jwt.encode(claims(), "k" * 64, "HS512", headers={"kid": "acme/1"}), "HS256"),
        (lambda: jwt.encode(claims(), "k" * 32, "HS256", headers={"kid": "acme/2"}), "key"),
        (lambda: jwt.encode(claims(), "k" * 32, "HS256", headers={"kid": "Bad Tenant/1"}), "key"),
        (lambda: "not.a.token", "malformed"),
    ],
)
def test_a_bad_token_is_unauthenticated(token: Any, message: str) -> None:
    with pytest.raises(Unauthenticated, match=message):
        SIGNING.verify(token())
