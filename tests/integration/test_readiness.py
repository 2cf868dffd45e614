"""Readiness reports each server, and is 503 while any of them does not answer."""

from __future__ import annotations

from dataclasses import replace

from litestar.testing import TestClient

from api.app import create_app
from infrastructure.embedded import free_port
from infrastructure.settings import Settings


def test_readyz_is_503_naming_the_server_that_does_not_answer(servers: Settings) -> None:
    unreachable = replace(servers, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with TestClient(create_app(unreachable)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["postgres"] == "ok"
    assert checks["redis"].startswith("error")
