"""docker-compose runs what `chronicle up` runs: a service for each process kind and each
server, each command one the CLI has, each service with a healthcheck."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml  # type: ignore[import-untyped]
from typer.testing import CliRunner

from api.cli import app
from api.cli.processes import WORKER_HEALTH
from api.processes.workers import UP_WORKERS
from infrastructure.settings import Settings

COMPOSE = Path(__file__).parents[3] / "docker-compose.yml"
API = "serve"  # `up` serves the API in its own process, as `chronicle serve` does


def services() -> dict[str, dict[str, Any]]:
    loaded: dict[str, dict[str, Any]] = yaml.safe_load(COMPOSE.read_text())["services"]
    return loaded


def chronicle_services() -> dict[str, dict[str, Any]]:
    """The services that run the Chronicle image (a `chronicle …` command)."""
    return {name: s for name, s in services().items() if "build" in s}


def long_running(service: dict[str, Any]) -> bool:
    """A service that stays up (a one-off job is not restarted)."""
    restart: str = service.get("restart", "no")
    return restart != "no"


def accepts(argv: list[str]) -> bool:
    """Whether the CLI has the command ``chronicle argv`` names, with those options: asked
    for its help, it parses the line (an unknown command or option is refused) and runs
    nothing."""
    answer = CliRunner().invoke(app, [*argv, "--help"])
    return answer.exit_code == 0


def test_every_chronicle_service_runs_a_command_the_cli_has() -> None:
    assert chronicle_services()
    for name, service in chronicle_services().items():
        program, *argv = service["command"]
        assert program == "chronicle", name
        assert accepts(argv), f"service {name}: the CLI refuses {' '.join(argv)!r}"


def test_an_unknown_command_or_option_would_be_caught() -> None:
    assert accepts(["serve", "--workers", "2"])
    assert not accepts(["sael"])
    assert not accepts(["serve", "--wrokers", "2"])


def test_every_service_has_a_healthcheck_and_only_a_job_disables_it() -> None:
    for name, service in services().items():
        check = service.get("healthcheck")
        assert check, f"service {name} has no healthcheck"
        if check.get("disable"):
            assert not long_running(service), f"service {name} stays up unchecked"
            continue
        test = check["test"]
        assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, name
        if test[1] == "chronicle":
            assert accepts(test[2:]), f"service {name}: the CLI refuses its healthcheck"


def test_compose_runs_each_process_kind_that_up_runs() -> None:
    kinds = {
        service["command"][1] for service in chronicle_services().values() if long_running(service)
    }
    assert kinds == {API, *UP_WORKERS}


def test_each_worker_service_is_checked_for_its_own_work() -> None:
    assert set(WORKER_HEALTH) == set(UP_WORKERS)
    for name, service in chronicle_services().items():
        kind = service["command"][1]
        if kind in UP_WORKERS:
            assert service["healthcheck"]["test"] == ["CMD", "chronicle", "health", kind], name


def test_each_server_up_would_embed_is_a_checked_service_the_processes_wait_for() -> None:
    all_named = Settings(database_url="x", nats_url="x", redis_url="x").url_environment()
    for name, service in chronicle_services().items():
        environment = service["environment"]
        assert set(all_named) <= set(environment), name
        for variable in all_named:
            host = urlsplit(environment[variable]).hostname
            assert host in services(), f"{variable} names {host}, which is no service"
            assert services()[host]["healthcheck"]["test"], host
            assert service["depends_on"][host] == {"condition": "service_healthy"}, name
