"""`chronicle up`: embedded servers for every unset URL, the development key, the workers
beside the API, then the API; until a signal.

`up` owns its data directory while it runs and stops every child it started on exit.
"""

from __future__ import annotations

import errno
import socket
import time

from rich.console import Console

from api.bootstrap import Container
from api.processes.serve import serve_api
from api.processes.workers import UP_WORKERS
from application.context import CommandContext
from domain.identity import SCOPES
from domain.tenancy import SYSTEM_TENANT
from infrastructure.embedded import EmbeddedServers
from infrastructure.runtime import (
    data_dir_lock,
    ensure_dev_master_key,
    remove_runtime,
    write_runtime,
)
from infrastructure.settings import Settings

DEV_TENANT = "default"
DEV_KEY_FILE = "dev-api-key"
OPERATOR_KEY_FILE = "dev-operator-key"  # an admin key of _system: the operator metrics
OPERATOR_SCOPES = ["read", "admin"]


def ensure_dev_key(settings: Settings) -> str:
    """The development key of tenant ``default`` with every scope, and an operator's key
    (``_system``, read and admin) beside it, each created once."""
    container = Container.build(settings)
    try:
        token = _ensure_key(container, DEV_KEY_FILE, DEV_TENANT, "development", list(SCOPES))
        _ensure_key(container, OPERATOR_KEY_FILE, SYSTEM_TENANT, "operator", OPERATOR_SCOPES)
    finally:
        container.close()
    return token


def _ensure_key(container: Container, file: str, tenant: str, name: str, scopes: list[str]) -> str:
    """The key kept in ``file`` of the data directory, issued if it is missing or invalid."""
    path = container.settings.data_dir / file
    if path.exists() and container.identity.is_valid(token := path.read_text().strip()):
        return token
    context = CommandContext(tenant_id=tenant, actor="chronicle:up", command="keys.create")
    issued = container.portal.call(container.identity.issue_key, context, tenant, name, scopes)
    path.write_text(issued.token + "\n")
    path.chmod(0o600)
    return issued.token


class PortTaken(RuntimeError):
    """The API's port is not free, so `up` starts nothing."""


def check_port(host: str, port: int) -> None:
    """Raise `PortTaken` unless the API can listen on ``host:port`` (bound as uvicorn binds)."""
    try:
        with _bound(host, port):
            return
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise PortTaken(f"cannot listen on {host}:{port}: {error.strerror}") from None
    free = next((p for p in range(port + 1, min(port + 100, 65536)) if _free(host, p)), None)
    example = f", e.g. CHRONICLE_PORT={free} make run" if free else ""
    raise PortTaken(
        f"port {port} on {host} is already in use; choose another with CHRONICLE_PORT{example}"
    )


def _bound(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _free(host: str, port: int) -> bool:
    try:
        _bound(host, port).close()
    except OSError:
        return False
    return True


def run_up(settings: Settings, console: Console) -> None:
    """Embedded servers for every unset URL, the dev key, then the API until a signal."""
    began = time.monotonic()
    check_port(settings.host, settings.port)  # before anything is started or written
    data_dir = settings.data_dir.resolve()
    with data_dir_lock(data_dir), EmbeddedServers(data_dir).running() as servers:
        settings = ensure_dev_master_key(settings)
        with console.status("starting embedded servers…"):
            resolved = settings.with_urls(
                settings.database_url or servers.postgres().url,
                settings.nats_url or servers.nats().url,
                settings.redis_url or servers.valkey().url,
            )
            token = ensure_dev_key(resolved)
        servers.supervise()  # from here on, a server that exits is started again
        write_runtime(resolved)

        def banner() -> None:
            base = f"http://{settings.host}:{settings.port}"
            console.print(
                f"\n[bold green]Chronicle is up[/bold green] in {time.monotonic() - began:.1f}s\n"
                f"  API:        {base}/v1\n"
                f"  API docs:   {base}/schema\n"
                f"  Console:    {base}/console (sign in with the API key)\n"
                f"  Readiness:  {base}/readyz\n"
                f"  Data:       {data_dir}\n"
                f"  Tenant:     {DEV_TENANT}\n"
                f"  API key:    {token}\n"
                f"              (also in {data_dir / DEV_KEY_FILE})\n"
                f"  Operator:   {data_dir / OPERATOR_KEY_FILE} (system metrics and alerts)\n\n"
                f'  Try: curl -H "Authorization: Bearer $(cat {data_dir / DEV_KEY_FILE})" \\\n'
                f'         --json \'{{"title": "Hello"}}\' {base}/v1/conversations\n\n'
                "Press Ctrl-C to stop.",
                highlight=False,
                soft_wrap=True,
            )

        container = Container.build(resolved)
        workers = [build(container) for build in UP_WORKERS.values()]
        for worker in workers:
            worker.start()
        try:
            serve_api(resolved, banner)
        finally:
            remove_runtime(data_dir)
            console.print("stopping…", highlight=False)
            for worker in reversed(workers):
                worker.stop()
            container.close()
