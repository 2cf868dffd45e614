"""`chronicle health KIND` on real PostgreSQL: a worker kind is healthy while its work gets
done (its followers keep up with the log, no expired lease waits), and `chronicle seal`
keeps the chain sealed until SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from api.bootstrap import Container
from application.alerts import Condition
from application.context import CommandContext
from infrastructure import health
from infrastructure.health import Health
from infrastructure.read_models import Conn, connect
from infrastructure.relay import CHECKPOINT_DDL
from infrastructure.settings import Settings
from tests.integration.cli import CHRONICLE, cli_env, run_cli

CTX = CommandContext("acme", "test", "t")


@pytest.fixture
def built(scratch: Settings) -> Iterator[Container]:
    container = Container.build(scratch)
    yield container
    container.close()


def post(container: Container) -> int:
    return container.portal.call(container.conversations.start, CTX, "hello", []).position


def head(container: Container) -> int:
    with connect(container.dsn) as conn:
        return health.head(conn)


def judged(container: Container, judge: Callable[[Conn], Health]) -> Health:
    return health.check(container.dsn, judge)


def eventually(container: Container, judge: Callable[[Conn], Health], seconds: float) -> Health:
    deadline = time.monotonic() + seconds
    while not (verdict := judged(container, judge)).ok and time.monotonic() < deadline:
        time.sleep(0.2)
    return verdict


def test_relay_health_is_the_checkpoint_keeping_up_with_the_log(built: Container) -> None:
    post(built)
    assert "not set up yet" in judged(built, health.relay).detail
    with connect(built.dsn) as conn:
        conn.execute(CHECKPOINT_DDL)
        conn.execute(
            "INSERT INTO chronicle_relay (name, position)"
            " SELECT 'relay', max(notification_id) FROM chronicle_events"
        )
    assert judged(built, health.relay) == Health(True, f"caught up with {head(built)}")

    post(built)  # nothing publishes it
    stuck = judged(built, lambda conn: health.relay(conn, within=0.5))
    assert not stuck.ok and "behind, and not moving" in stuck.detail

    def publish_later() -> None:
        time.sleep(0.3)
        with connect(built.dsn) as conn:
            conn.execute(
                "UPDATE chronicle_relay SET position = (SELECT max(notification_id)"
                " FROM chronicle_events)"
            )

    publisher = threading.Thread(target=publish_later)
    publisher.start()
    assert judged(built, lambda conn: health.relay(conn, within=5)).ok
    publisher.join()


def test_projection_health_needs_every_projection_followed(built: Container) -> None:
    post(built)
    idle = judged(built, health.projections)
    assert not idle.ok and "no projector has followed the log" in idle.detail
    engine = built.projection_engine()
    engine.start()
    try:
        assert eventually(built, health.projections, 15).ok
    finally:
        engine.stop()


def test_scheduler_health_is_no_expired_lease_left_running(built: Container) -> None:
    engine = built.projection_engine(["tasks"])
    engine.start()
    try:
        assert judged(built, health.scheduler).ok
        task = built.portal.call(built.tasks.submit, CTX, "slow", None, 0, 3, 0.3, None, 60)
        deadline = time.monotonic() + 10
        while (
            built.portal.call(built.tasks.claim, CTX, "w1", ["slow"]) is None
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        time.sleep(0.5)  # the lease has expired; no scheduler runs
        late = judged(built, lambda conn: health.scheduler(conn, late_after=0.1))
        assert not late.ok and "1 task(s)" in late.detail
        assert built.scheduler().fire_due() == 1
        assert eventually(built, lambda conn: health.scheduler(conn, late_after=0.1), 10).ok
        assert built.tasks.get("acme", task.id).state == "pending"
    finally:
        engine.stop()


def test_alerts_health_is_no_pending_alert_left_unfired(built: Container) -> None:
    engine = built.projection_engine(["alerts", "metrics"])
    engine.start()
    try:
        quiet = Condition("no failures", "runs_failed", "<", 1, 300, 60)  # holds: none fail
        rule = built.portal.call(built.alerts.create, CTX, quiet)
        evaluator, earlier = built.evaluator(), datetime.now(UTC) - timedelta(seconds=120)
        deadline = time.monotonic() + 10
        while (rule.id, "open") not in built.portal.call(evaluator.evaluate, earlier):
            assert time.monotonic() < deadline, "the rule was never evaluated"
            time.sleep(0.05)
        seen_late = eventually(built, lambda conn: Health(not alerts_health(conn).ok, ""), 10)
        assert seen_late.ok
        assert "1 pending alert(s)" in judged(built, alerts_health).detail
        assert (rule.id, "fire") in built.portal.call(evaluator.evaluate, datetime.now(UTC))
        assert eventually(built, alerts_health, 10).ok
    finally:
        engine.stop()


def alerts_health(conn: Conn) -> Health:
    """Whether pending alerts fire, counting one late a second past its `for`."""
    return health.alerts(conn, late_after=1)


def test_chronicle_seal_seals_until_sigterm_and_health_seal_says_so(built: Container) -> None:
    settings = built.settings
    last = post(built)
    refused = run_cli(settings, "health", "seal")
    assert refused.returncode == 1 and "not set up yet" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1

    sealer = subprocess.Popen(
        [CHRONICLE, "seal"], env=cli_env(settings), stdout=subprocess.PIPE, text=True
    )
    try:
        assert eventually(built, health.chain, 20).ok
        answered = run_cli(settings, "health", "seal")
        assert answered.returncode == 0, answered.stderr
        assert answered.stdout.strip() == f"seal: ok, caught up with {last}"
    finally:
        sealer.send_signal(signal.SIGTERM)
        began = time.monotonic()
        assert sealer.wait(15) == 0
    assert time.monotonic() - began < 5

    post(built)  # no sealer runs any more
    stuck = judged(built, lambda conn: health.chain(conn, within=0.5))
    assert not stuck.ok and "behind, and not moving" in stuck.detail


def test_health_refuses_an_unknown_kind(scratch: Settings) -> None:
    answered = run_cli(scratch, "health", "sealer")
    assert answered.returncode == 2
    assert "known: project, relay, seal, scheduler, webhooks, alerts" in answered.stderr
