"""Key rotation and revocation: a successor works alongside its predecessor, a revoked
key is refused on every API process within a second, and admins manage only their
tenant's keys."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import replace

import httpx

from api.bootstrap import Container
from infrastructure.settings import Settings
from tests.integration.cli import run_cli
from tests.integration.conftest import KeyFactory, serving
from tests.integration.test_audit import bearer, key_id_of
from tests.integration.test_http_conversations import assert_problem

REVOCATION_DEADLINE_S = 1.0


async def refused_within(http: httpx.AsyncClient, token: str, seconds: float) -> float | None:
    """How long until ``token`` is refused (polling), or ``None`` if not within ``seconds``."""
    began = time.monotonic()
    while (waited := time.monotonic() - began) < seconds:
        if (await http.get("/v1/conversations", headers=bearer(token))).status_code == 401:
            return waited
        await asyncio.sleep(0.02)
    return None


async def test_a_revoked_key_is_refused_on_every_process_within_a_second(
    api_url: str, servers: Settings, issue_key: KeyFactory
) -> None:
    """The second process caches answers for a minute: only the revocation arriving over
    NATS can make it refuse the key in time."""
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    admin, doomed = issue_key(tenant, ("admin",)), issue_key(tenant, ("read",))
    with serving(replace(servers, auth_cache_seconds=60.0)) as other_url:
        async with (
            httpx.AsyncClient(base_url=api_url, timeout=30) as one,
            httpx.AsyncClient(base_url=other_url, timeout=30) as two,
        ):
            for http in (one, two):  # warm both caches
                assert (
                    await http.get("/v1/conversations", headers=bearer(doomed))
                ).status_code == 200
            revoked = await one.post(
                f"/v1/keys/{key_id_of(doomed)}/revoke",
                json={"reason": "leaked"},
                headers=bearer(admin),
            )
            assert revoked.status_code == 200, revoked.text
            waits = await asyncio.gather(
                refused_within(one, doomed, REVOCATION_DEADLINE_S),
                refused_within(two, doomed, REVOCATION_DEADLINE_S),
            )
    assert None not in waits, waits


async def test_rotation_keeps_the_old_key_until_it_is_revoked(
    api_url: str, servers: Settings, container: Container, issue_key: KeyFactory
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    old = issue_key(tenant, ("read", "commands:write"))
    rotated = run_cli(servers, "keys", "rotate", key_id_of(old))
    assert rotated.returncode == 0, rotated.stderr
    new = rotated.stdout.strip().splitlines()[-1]
    assert new.startswith("chr_") and new != old
    listed = run_cli(servers, "keys", "list", "--tenant", tenant, "--json")
    keys = {k["key_id"]: k for k in json.loads(listed.stdout)}
    assert keys[key_id_of(new)]["rotated_from"] == key_id_of(old)
    assert keys[key_id_of(new)]["scopes"] == ["commands:write", "read"]
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        for token in (old, new):
            assert (await http.get("/v1/conversations", headers=bearer(token))).status_code == 200
        assert run_cli(servers, "keys", "revoke", key_id_of(old)).returncode == 0
        assert await refused_within(http, old, REVOCATION_DEADLINE_S) is not None
        assert (await http.get("/v1/conversations", headers=bearer(new))).status_code == 200
    again = run_cli(servers, "keys", "rotate", key_id_of(old))
    assert again.returncode != 0 and "revoked" in again.stderr
    assert len(container.identity.list_keys(tenant)) == 2  # nothing half-written
    bad = run_cli(servers, "keys", "rotate", "not-a-key")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


async def test_admins_manage_only_their_own_tenants_keys(
    api_url: str, issue_key: KeyFactory
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    admin, member = issue_key(tenant, ("admin",)), issue_key(tenant, ("read",))
    foreign = issue_key()
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        listed = await http.get("/v1/keys", headers=bearer(admin))
        assert listed.status_code == 200
        assert {k["key_id"] for k in listed.json()["items"]} == {
            key_id_of(admin),
            key_id_of(member),
        }
        assert all("secret" not in json.dumps(k) for k in listed.json()["items"])
        assert_problem(await http.get("/v1/keys", headers=bearer(member)), 403)
        assert_problem(
            await http.post(f"/v1/keys/{key_id_of(foreign)}/revoke", headers=bearer(admin)), 404
        )
        assert (await http.get("/v1/conversations", headers=bearer(foreign))).status_code == 200
        assert_problem(
            await http.post(f"/v1/keys/{key_id_of(member)}/revoke", headers=bearer(member)), 403
        )
        first = await http.post(f"/v1/keys/{key_id_of(member)}/revoke", headers=bearer(admin))
        assert first.status_code == 200, first.text
        assert_problem(
            await http.post(f"/v1/keys/{key_id_of(member)}/revoke", headers=bearer(admin)), 409
        )
        assert_problem(
            await http.post(
                f"/v1/keys/{key_id_of(admin)}/revoke", json={"why": "x"}, headers=bearer(admin)
            ),
            400,
        )
        own = await http.post(f"/v1/keys/{key_id_of(admin)}/revoke", headers=bearer(admin))
        assert_problem(own, 409)
        assert own.json()["type"].endswith("/own-key")
        assert (await http.get("/v1/keys", headers=bearer(admin))).status_code == 200
