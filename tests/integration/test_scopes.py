"""Scopes on every endpoint, found from the application's own routes: each /v1 route
declares one scope; a key without it gets 403, a key with only it gets past the guard."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import httpx
import pytest

from api.http.app import create_app
from api.http.auth import Requires
from domain.identity import SCOPES
from infrastructure.settings import Settings
from tests.integration.conftest import KeyFactory
from tests.integration.test_audit import bearer
from tests.integration.test_http_conversations import PROBLEM

PARAMETER = re.compile(r"\{(\w+):(\w+)\}")
APP = create_app(
    Settings(database_url="postgresql://-/-", nats_url="nats://-", redis_url="redis://-")
)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    scope: str

    def url(self) -> str:
        return PARAMETER.sub(lambda m: str(uuid.uuid4()) if m[2] == "uuid" else "x", self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.scope})"


def guarded_routes() -> list[tuple[str, str, list[object]]]:
    """(method, path, guards) of each /v1 route handler; WebSocket routes as 'WS'."""
    found = []
    for route in APP.routes:
        if not route.path.startswith("/v1/"):
            continue
        for handler in getattr(route, "route_handlers", []):
            methods = getattr(handler, "http_methods", None) or {"WS"}
            for method in sorted(methods - {"OPTIONS"}):
                found.append((method, route.path, list(handler.guards or [])))
    return sorted(found, key=lambda r: (r[1], r[0]))  # one order in every process


ENDPOINTS = [
    Endpoint(method, path, guards[0].scope)
    for method, path, guards in guarded_routes()
    if method != "WS" and len(guards) == 1 and isinstance(guards[0], Requires)
]


def test_every_v1_route_declares_exactly_one_scope() -> None:
    routes = guarded_routes()
    assert len(routes) >= 30
    for method, path, guards in routes:
        assert len(guards) == 1 and isinstance(guards[0], Requires), f"{method} {path}"
        assert guards[0].scope in SCOPES
    assert {e.scope for e in ENDPOINTS} == set(SCOPES)  # every scope guards something


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
async def test_the_scope_is_needed_and_enough(
    endpoint: Endpoint, api_url: str, issue_key: KeyFactory
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    lacking = issue_key(tenant, tuple(s for s in SCOPES if s != endpoint.scope))
    holding = issue_key(tenant, (endpoint.scope,))
    body: dict[str, object] | None = {} if endpoint.method == "POST" else None
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        async with http.stream(
            endpoint.method, endpoint.url(), json=body, headers=bearer(lacking)
        ) as refused:
            assert refused.status_code == 403
            assert refused.headers["content-type"].startswith(PROBLEM)
        async with http.stream(
            endpoint.method, endpoint.url(), json=body, headers=bearer(holding)
        ) as allowed:
            assert allowed.status_code not in (401, 403)
