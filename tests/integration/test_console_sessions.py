"""Console sessions over plain HTTP: sign-in needs its form's CSRF token and a valid key;
the cookie is HttpOnly, SameSite=Strict and holds no key; a forged or expired cookie, a
form without its CSRF token and a revoked key are all refused; the console stays out of
the OpenAPI document."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from api.bootstrap import Container
from api.http.console.sessions import COOKIE, Claims, Signer
from api.http.console.streams import KEEPALIVE_SECONDS
from tests.integration.conftest import KeyFactory
from tests.integration.test_audit import bearer, key_id_of

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


async def sign_in(http: httpx.AsyncClient, key: str) -> httpx.Response:
    form = await http.get("/console/login")
    assert form.status_code == 200
    data = {"api_key": key, "csrf_token": csrf_of(form)}
    return await http.post("/console/login", data=data)


async def test_signing_in_sets_a_strict_http_only_cookie_without_the_key(
    api_url: str, issue_key: KeyFactory
) -> None:
    key = issue_key()
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        signed = await sign_in(http, key)
        assert signed.status_code == 303 and signed.headers["location"] == "/console"
        (cookie,) = [c for c in signed.headers.get_list("set-cookie") if c.startswith(COOKIE + "=")]
        attributes = {part.strip().lower() for part in cookie.split(";")}
        assert {"httponly", "samesite=strict", "path=/console"} <= attributes
        assert any(a.startswith("max-age=") for a in attributes)
        assert key not in cookie and key.split("_")[2] not in cookie
        overview = await http.get("/console")
        assert overview.status_code == 200 and "Overview" in overview.text
        assert "default-src 'self'" in overview.headers["content-security-policy"]


async def test_signing_in_without_the_forms_csrf_token_is_refused(
    api_url: str, issue_key: KeyFactory
) -> None:
    key = issue_key()
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        refused = await http.post("/console/login", data={"api_key": key})
        assert refused.status_code == 403 and COOKIE not in refused.cookies
        token = csrf_of(await http.get("/console/login"))
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as other:  # no nonce cookie
        stolen = await other.post("/console/login", data={"api_key": key, "csrf_token": token})
        assert stolen.status_code == 403 and COOKIE not in stolen.cookies


async def test_a_wrong_key_is_refused_without_a_session(api_url: str) -> None:
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        refused = await sign_in(http, "chr_" + "0" * 32 + "_" + "x" * 43)
        assert refused.status_code == 401 and "was not accepted" in refused.text
        assert COOKIE not in http.cookies


async def test_a_forged_cookie_is_refused(api_url: str, issue_key: KeyFactory) -> None:
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        await sign_in(http, issue_key(scopes=("read",)))
        body, _, mac = http.cookies[COOKIE].partition(".")
        wider = Signer(b"guessed" * 5).seal(Claims("x", "t", ["admin", "audit:read"], 2**40))
        for forged in (f"{wider.partition('.')[0]}.{mac}", wider, f"{body}.{mac[:-3]}abc"):
            http.cookies.clear()
            http.cookies.set(COOKIE, forged, path="/console")
            page = await http.get("/console/audit")
            assert page.status_code == 303 and page.headers["location"] == "/console/login"
            stream = await http.get("/console/live/stream")
            assert stream.status_code == 401


async def test_an_expired_cookie_is_refused(
    api_url: str, issue_key: KeyFactory, container: Container
) -> None:
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        await sign_in(http, issue_key())
        claims = Signer(container.console_secret).open(http.cookies[COOKIE])
        assert claims is not None
        expired = Claims(claims.sid, claims.tenant, claims.scopes, int(time.time()) - 1)
        http.cookies.clear()
        http.cookies.set(COOKIE, Signer(container.console_secret).seal(expired), path="/console")
        page = await http.get("/console")
        assert page.status_code == 303 and page.headers["location"] == "/console/login"


async def test_a_form_without_its_csrf_token_is_refused(
    api_url: str, issue_key: KeyFactory
) -> None:
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        await sign_in(http, issue_key())
        some_id = uuid.uuid4()
        for path in ("/console/logout", f"/console/alerts/{some_id}/acknowledge"):
            for data in ({}, {"csrf_token": "made-up"}):
                refused = await http.post(path, data=data)
                assert refused.status_code == 403, (path, data)
                assert "security token" in refused.text
        assert (await http.get("/console")).status_code == 200  # still signed in
        own = csrf_of(await http.get("/console"))
        signed_out = await http.post("/console/logout", data={"csrf_token": own})
        assert signed_out.status_code == 303
        assert (await http.get("/console")).status_code == 303


async def test_a_revoked_key_stops_its_session_within_a_second(
    api_url: str, issue_key: KeyFactory
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    admin, doomed = issue_key(tenant, ("admin",)), issue_key(tenant, ("read",))
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        await sign_in(http, doomed)
        assert (await http.get("/console")).status_code == 200
        revoked = await http.post(
            f"/v1/keys/{key_id_of(doomed)}/revoke", json={"reason": "x"}, headers=bearer(admin)
        )
        assert revoked.status_code == 200, revoked.text
        began = time.monotonic()
        while (await http.get("/console")).status_code == 200:
            assert time.monotonic() - began < 1.0
            await asyncio.sleep(0.02)


async def test_a_revoked_keys_open_stream_ends(api_url: str, issue_key: KeyFactory) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    admin, doomed = issue_key(tenant, ("admin",)), issue_key(tenant, ("live:read",))
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        await sign_in(http, doomed)
        async with http.stream("GET", "/console/live/stream") as stream:
            assert stream.status_code == 200
            revoked = await http.post(
                f"/v1/keys/{key_id_of(doomed)}/revoke", json={"reason": "x"}, headers=bearer(admin)
            )
            assert revoked.status_code == 200, revoked.text
            began = time.monotonic()
            async with asyncio.timeout(KEEPALIVE_SECONDS + 3):
                async for _ in stream.aiter_bytes():
                    pass  # keep-alives until the session is found gone
            assert time.monotonic() - began <= KEEPALIVE_SECONDS + 2
        assert (await http.get("/console/live/stream")).status_code == 401


async def test_another_tenants_conversation_is_not_found(
    api_url: str, issue_key: KeyFactory
) -> None:
    theirs = issue_key()
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        created = await http.post(
            "/v1/conversations", json={"title": "theirs"}, headers=bearer(theirs)
        )
        assert created.status_code == 201
        await sign_in(http, issue_key())
        for conversation in (created.json()["id"], uuid.uuid4()):
            page = await http.get(f"/console/conversations/{conversation}")
            assert page.status_code == 404 and "theirs" not in page.text
            assert page.headers["content-type"].startswith("text/html")


async def test_the_co_editing_socket_takes_only_its_own_sites_signed_in_pages(
    api_url: str, issue_key: KeyFactory
) -> None:
    key = issue_key()
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        created = await http.post("/v1/documents", json={"title": "t"}, headers=bearer(key))
        assert created.status_code == 201
        await sign_in(http, key)
        cookie = f"{COOKIE}={http.cookies[COOKIE]}"
    url = api_url.replace("http", "ws", 1) + f"/console/documents/{created.json()['id']}/ws"
    host = api_url.split("://", 1)[1]
    for headers in (
        {"Origin": api_url},  # no session
        {"Origin": "http://elsewhere.example", "Cookie": cookie},  # another site's page
        {"Origin": api_url, "Cookie": f"{COOKIE}=forged.cookie"},
    ):
        with pytest.raises(InvalidStatus):
            async with connect(url, additional_headers=headers, origin=None):
                pass
    async with connect(
        url, additional_headers={"Cookie": cookie, "Origin": f"http://{host}"}
    ) as ws:
        welcome = json.loads(await ws.recv())
        assert welcome["type"] == "welcome" and welcome["title"] == "t"


async def test_the_console_is_not_in_the_openapi_document(api_url: str) -> None:
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        schema = (await http.get("/schema/openapi.json")).json()
    assert not [path for path in schema["paths"] if path.startswith("/console")]


async def test_the_consoles_assets_are_served_by_chronicle(api_url: str) -> None:
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        login = await http.get("/console/login")
        for asset in ("/console/static/console.css", "/console/static/console.js"):
            assert asset in login.text
            assert (await http.get(asset)).status_code == 200
    assert not re.search(r'(src|href)="(https?:)?//', login.text)  # nothing from elsewhere
