"""Readiness tells the truth and nothing more: 503 ``degraded`` while a server does not
answer or a projection has parked events, with states, names, positions and counts only
(never an error's text, which may quote a tenant's payload); /metrics counts parked events.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

import httpx
from litestar.testing import TestClient

from api.bootstrap import Container
from api.http.app import create_app
from infrastructure.embedded import free_port
from infrastructure.settings import Settings
from tests.integration.cli import run_cli
from tests.integration.test_parking import catch_up, submit_task

SECRET = "sk-live-SECRET-7d1e"


def readyz_once_nats_is_up(client: TestClient[Any]) -> httpx.Response:
    """/readyz once the app's NATS connection, made as it starts, is up (until then NATS
    is rightly unreachable too)."""
    deadline = time.monotonic() + 15
    response = client.get("/readyz")
    while response.json()["checks"]["nats"] != "ok" and time.monotonic() < deadline:
        time.sleep(0.1)
        response = client.get("/readyz")
    return response


def test_readyz_is_503_naming_the_server_that_does_not_answer(servers: Settings) -> None:
    unreachable = replace(servers, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with TestClient(create_app(unreachable)) as client:
        response = readyz_once_nats_is_up(client)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"] == {"postgres": "ok", "nats": "ok", "redis": "unreachable"}


def test_a_parked_event_makes_readyz_degraded_without_saying_what_it_held(
    scratch: Settings,
) -> None:
    container = Container.build(scratch)
    try:
        with TestClient(create_app(scratch)) as client:
            catch_up(container)
            ready = readyz_once_nats_is_up(client)
            assert ready.status_code == 200, ready.text
            body = ready.json()
            assert body["status"] == "ready"
            assert body["checks"] == {"postgres": "ok", "nats": "ok", "redis": "ok"}
            assert set(body["projections"]) == set(container.projections)
            for state in body["projections"].values():
                assert set(state) == {"state", "position", "lag", "parked"}
                assert state["parked"] == 0

            poison = submit_task(container, "acme", {"api_token": SECRET, "note": "\u0000"})
            catch_up(container)
            degraded = client.get("/readyz")
            assert degraded.status_code == 503
            body = degraded.json()
            assert body["status"] == "degraded"
            assert body["projections"]["tasks"] == {
                "state": body["projections"]["tasks"]["state"],
                "position": poison,
                "lag": 0,
                "parked": 1,
            }
            metrics = client.get("/metrics").text
            answers = [degraded.text, metrics, client.get("/healthz").text]
            assert not any(SECRET in answer or "acme" in answer for answer in answers)
            assert 'chronicle_projection_parked_events{projection="tasks"} 1.0' in metrics
            assert 'chronicle_projection_parked_events{projection="messages"} 0.0' in metrics
            assert f'chronicle_projection_position{{projection="tasks"}} {poison}.0' in metrics
            assert 'chronicle_projection_lag_events{projection="tasks"} 0.0' in metrics
    finally:
        container.close()

    listed = run_cli(scratch, "projections", "parked", "tasks", "--json")
    (parked,) = json.loads(listed.stdout)
    assert (parked["position"], parked["tenant_id"]) == (poison, "acme")
    assert parked["error_class"] == "UntranslatableCharacter" and parked["error"]
