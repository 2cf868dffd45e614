"""`chronicle metrics` and `chronicle alerts list|ack` against the session's servers: a
tenant's figures and alerts, never another tenant's; bad input is one line and exit 2."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from api.bootstrap import Container
from application.alerts import Evaluator
from infrastructure.settings import Settings
from tests.integration.cli import run_cli
from tests.integration.conftest import KeyFactory
from tests.integration.test_alerts import alerts_in, create_rule, fail_runs


def cli_json(servers: Settings, *args: str) -> Any:
    done = run_cli(servers, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def applied(container: Container, said: str) -> None:
    """Wait until the alerts read model has the position a command printed last."""
    position = int(said.split()[-1])
    deadline = time.monotonic() + 10
    while container.reads.position(("alerts",)) < position:
        assert time.monotonic() < deadline
        time.sleep(0.02)


@pytest.fixture
async def two_tenants(
    api_url: str, issue_key: KeyFactory, container: Container, projecting: None
) -> list[tuple[str, dict[str, Any]]]:
    """Two tenants, with 2 and 1 failed runs and a firing alert each: (tenant, alert)."""
    found = []
    for failures in (2, 1):
        tenant = f"t-cli-{failures}-{datetime.now(UTC):%H%M%S%f}"
        headers = {"Authorization": f"Bearer {issue_key(tenant)}"}
        async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=30) as http:
            await create_rule(http, for_s=0, threshold=1)
            await fail_runs(http, failures)
            evaluator: Evaluator = container.evaluator()
            container.portal.call(evaluator.evaluate, datetime.now(UTC))
            (alert,) = await alerts_in(http, "firing")
        found.append((tenant, alert))
    return found


async def test_metrics_show_a_tenants_own_figures_now_and_as_a_series(
    servers: Settings, two_tenants: list[tuple[str, dict[str, Any]]]
) -> None:
    (mine, _), _ = two_tenants  # theirs failed 1 run
    current = cli_json(servers, "metrics", "--tenant", mine, "--name", "runs_failed")
    assert [(i["name"], i["last_24h"]) for i in current["items"]] == [("runs_failed", 2)]
    series = cli_json(servers, "metrics", "--tenant", mine, "--history", "runs_failed")
    assert series["step"] == "1m" and 60 <= len(series["points"]) <= 61
    assert sum(point["value"] for point in series["points"]) == 2
    table = run_cli(servers, "metrics", "--tenant", mine)
    assert table.returncode == 0, table.stderr
    assert "runs_failed" in table.stdout and "task_queue_latency_ms_p95" in table.stdout


async def test_alerts_are_listed_and_acknowledged_only_within_their_tenant(
    servers: Settings, container: Container, two_tenants: list[tuple[str, dict[str, Any]]]
) -> None:
    (mine, my_alert), (_, their_alert) = two_tenants
    table = run_cli(servers, "alerts", "list", "--tenant", mine, "--state", "firing")
    assert my_alert["alert_id"] in table.stdout and their_alert["alert_id"] not in table.stdout
    foreign = run_cli(servers, "alerts", "ack", their_alert["alert_id"], "--tenant", mine)
    assert foreign.returncode == 1
    assert f"alert {their_alert['alert_id']} not found" in foreign.stderr
    assert len(foreign.stderr.strip().splitlines()) == 1
    acked = run_cli(servers, "alerts", "ack", my_alert["alert_id"], "--note", "on it")
    assert acked.returncode == 0, acked.stderr
    applied(container, acked.stdout)
    (shown,) = cli_json(servers, "alerts", "list", "--tenant", mine)
    assert shown["alert_id"] == my_alert["alert_id"] and shown["state"] == "acknowledged"
    assert shown["note"] == "on it" and shown["acknowledged_by"].startswith("cli:")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("metrics", "--name", "runs_failed", "--name", "nope"), "unknown metric 'nope'"),
        (("alerts", "ack", "not-an-id"), "not a UUID"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    servers: Settings, args: tuple[str, ...], says: str
) -> None:
    done = run_cli(servers, *args)
    assert done.returncode == 2 and says in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
