"""A database outage, for real: these tests stop their own PostgreSQL and start it again
(and point the CLI at a port where no database answers).

Commands during the outage fail at once and together (a 503 problem over HTTP, safe to
retry with the same Idempotency-Key); once the server is back they commit again, and the
log has no gap where the refused commands were.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from litestar.testing import TestClient

from api.bootstrap import Container
from api.http.app import create_app
from application.commands import CommandRunner
from application.context import CommandContext
from application.errors import StoreUnavailable
from application.ports import Change, CommandResult
from domain.conversation import Conversation
from domain.identity import SCOPES
from infrastructure.embedded import EmbeddedPostgres, free_port
from infrastructure.event_store import PostgresEventStore
from infrastructure.settings import Settings
from tests.integration.cli import run_cli


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL server of the module's own, which its tests stop and start."""
    with tempfile.TemporaryDirectory(prefix="chronicle-outage-") as directory:
        postgres = EmbeddedPostgres(Path(directory) / "postgres")
        postgres.start()
        try:
            yield postgres
        finally:
            postgres.stop()


@pytest.fixture(scope="module")
def settings(servers: Settings, own_postgres: EmbeddedPostgres) -> Settings:
    return replace(servers, database_url=own_postgres.url)


def context() -> CommandContext:
    return CommandContext("acme", "tester", "conversations.start")


def decide(title: str) -> Callable[[], Change]:
    def start_conversation() -> Change:
        conversation = Conversation.start("acme", title, [])
        return Change((conversation,), conversation)

    return start_conversation


async def start(runner: CommandRunner, title: str) -> CommandResult:
    return await runner.run(context(), decide(title), decide_blocks=False)


async def test_commands_fail_together_in_an_outage_and_commit_after_it(
    own_postgres: EmbeddedPostgres, settings: Settings
) -> None:
    store = PostgresEventStore(settings)
    runner = CommandRunner(store)
    try:
        first = await start(runner, "before")
        await asyncio.to_thread(
            store.portal.call, runner.run, context(), decide("before, in a thread")
        )
        own_postgres.stop()
        try:
            during = await asyncio.gather(
                *(start(runner, f"during {i}") for i in range(16)), return_exceptions=True
            )
            with pytest.raises(StoreUnavailable):
                await asyncio.to_thread(
                    store.portal.call, runner.run, context(), decide("during, in a thread")
                )
        finally:
            own_postgres.start()
        assert [type(outcome) for outcome in during] == [StoreUnavailable] * 16
        after = await asyncio.gather(*(start(runner, f"after {i}") for i in range(8)))
        positions = sorted(result.position for result in after)
        assert positions == list(range(first.position + 2, first.position + 10))
    finally:
        store.close()


async def test_a_command_in_an_outage_is_a_503_problem_and_its_retry_commits_after_it(
    own_postgres: EmbeddedPostgres, settings: Settings
) -> None:
    container = Container.build(settings)
    try:
        tenant = f"t-{uuid.uuid4().hex[:12]}"
        issued = CommandContext(tenant_id=tenant, actor="test", command="keys.create")
        token = (await container.identity.issue_key(issued, tenant, "test", list(SCOPES))).token
    finally:
        container.close()
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings)) as client:
        assert client.post("/v1/conversations", json={"title": "before"}, headers=auth).is_success
        own_postgres.stop()
        try:
            keyed = {**auth, "Idempotency-Key": "during-the-outage"}
            refused = client.post("/v1/conversations", json={"title": "during"}, headers=keyed)
        finally:
            own_postgres.start()
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["type"].endswith("/store-unavailable")
        retried = client.post("/v1/conversations", json={"title": "during"}, headers=keyed)
        assert retried.status_code == 201, retried.text


@pytest.mark.parametrize("command", [["keys", "list", "--tenant", "acme"], ["serve"], ["project"]])
def test_the_cli_says_in_one_line_that_the_database_does_not_answer(
    servers: Settings, command: list[str]
) -> None:
    nobody = replace(servers, database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/none")
    result = run_cli(nobody, *command)
    assert result.returncode == 1
    assert result.stderr.startswith("error: a server could not be reached: ")
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
