"""The console's session cookie and CSRF tokens, without a server: what one secret signs
opens with it alone, unchanged and unexpired."""

from __future__ import annotations

import time

from api.http.console.sessions import Claims, Signer

SIGNER = Signer(b"s" * 32)
# Far from expiry: the module is imported at collection, long before some tests run.
CLAIMS = Claims("sid-1", "acme", ["audit:read", "read"], int(time.time()) + 365 * 86_400)


def test_a_sealed_cookie_opens_to_its_claims() -> None:
    assert SIGNER.open(SIGNER.seal(CLAIMS)) == CLAIMS


def test_a_changed_payload_or_signature_is_refused() -> None:
    body, _, mac = SIGNER.seal(CLAIMS).partition(".")
    more = SIGNER.seal(Claims("sid-1", "acme", ["admin"], CLAIMS.exp)).partition(".")[0]
    assert SIGNER.open(f"{more}.{mac}") is None
    assert SIGNER.open(f"{body}.{mac[:-2]}AA") is None
    assert SIGNER.open(body) is None
    assert SIGNER.open("not a cookie") is None
    assert SIGNER.open("") is None


def test_another_secret_signs_cookies_this_one_refuses() -> None:
    assert SIGNER.open(Signer(b"t" * 32).seal(CLAIMS)) is None


def test_an_expired_cookie_is_refused() -> None:
    sealed = SIGNER.seal(CLAIMS)
    assert SIGNER.open(sealed, now=CLAIMS.exp - 1) == CLAIMS
    assert SIGNER.open(sealed, now=CLAIMS.exp) is None


def test_a_csrf_token_holds_for_its_own_session_only() -> None:
    token = SIGNER.csrf("sid-1")
    assert SIGNER.csrf_ok("sid-1", token)
    assert not SIGNER.csrf_ok("sid-2", token)
    assert not SIGNER.csrf_ok("sid-1", None)
    assert not SIGNER.csrf_ok("sid-1", "")
    assert not Signer(b"t" * 32).csrf_ok("sid-1", token)
