"""The console's projections page: each read model's position, lag and parked events, and
the operators' repairs (retry what is parked, rebuild a read model), as the
``chronicle projections`` commands do them and recorded in the audit log the same way.

Projections serve every tenant: a tenant's admin sees their state and its own parked
events; only an admin key of the ``_system`` tenant retries or rebuilds.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import anyio.to_thread
import structlog
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from api.bootstrap import Container
from api.http.console.render import page
from api.http.console.viewer import SCOPE, NotAllowed, Viewer
from api.http.health import projection_statuses
from domain.tenancy import SYSTEM_TENANT
from infrastructure.event_store import EVENTS_TABLE
from infrastructure.parking import ParkedRow, list_parked
from infrastructure.projector import RebuildError
from infrastructure.read_models import connect
from infrastructure.repairs import RepairRefused, retry_parked

ADMIN = {SCOPE: "admin"}
Message = Annotated[str | None, QueryParameter(max_length=500)]
log = structlog.get_logger(__name__)
_rebuilds: dict[str, asyncio.Task[None]] = {}  # this process's rebuilds, by projection


def _operator(viewer: Viewer) -> None:
    if viewer.principal.tenant_id != SYSTEM_TENANT:
        raise NotAllowed(
            f"Projections serve every tenant: only an admin key of “{SYSTEM_TENANT}” repairs them.",
            viewer,
        )


def _known(container: Container, viewer: Viewer, name: str) -> None:
    if name not in container.projections:
        raise NotAllowed(f"There is no projection “{name}”.", viewer)


def _parked(container: Container, tenant: str | None) -> list[ParkedRow]:
    with connect(container.dsn) as conn:
        rows = list_parked(conn, EVENTS_TABLE, None)
    return [row for row in rows if tenant is None or row.tenant_id == tenant]


async def _rebuild(container: Container, actor: str, name: str) -> None:
    began = time.monotonic()
    try:
        generation, position, events = await anyio.to_thread.run_sync(
            lambda: container.rebuild(name).run(lambda _position, _head: None)
        )
    except RebuildError as error:
        log.warning("console rebuild refused", projection=name, error=str(error))
        return
    finally:
        _rebuilds.pop(name, None)
    seconds = round(time.monotonic() - began, 3)
    await container.projection_log.rebuilt(actor, name, generation, position, events, seconds)


def _back(notice: str) -> Redirect:
    return Redirect("/console/projections", status_code=303, query_params={"notice": notice})


class ProjectionsController(Controller):
    path = "/console/projections"

    @get("/", opt=ADMIN)
    async def projections(
        self,
        viewer: NamedDependency[Viewer],
        container: NamedDependency[Container],
        notice: Message = None,
    ) -> Template:
        """Each projection's state, and the events parked (the tenant's own, unless the
        viewer is an operator)."""
        operator = viewer.principal.tenant_id == SYSTEM_TENANT
        tenant = None if operator else viewer.principal.tenant_id
        return page(
            viewer,
            "projections.html",
            "Projections",
            statuses=await projection_statuses(container) or [],
            parked=await anyio.to_thread.run_sync(_parked, container, tenant),
            operator=operator,
            rebuilding=sorted(_rebuilds),
            notice=notice,
        )

    @post("/{name:str}/retry", opt=ADMIN, status_code=303)
    async def retry(
        self,
        viewer: NamedDependency[Viewer],
        container: NamedDependency[Container],
        name: FromPath[str],
    ) -> Redirect:
        """Apply a projection's parked events again, in order (``projections.retry``)."""
        _operator(viewer)
        _known(container, viewer, name)
        projection = container.projections[name]
        try:
            retried = await anyio.to_thread.run_sync(
                retry_parked, container.dsn, projection, container.store.decode_values, None
            )
        except RepairRefused as problem:
            return _back(str(problem))
        applied, still = len(retried.applied), len(retried.still_parked)
        await container.projection_log.retried(viewer.principal.actor, name, None, applied, still)
        if retried.resumed:
            return _back(f"{name} was stopped by an older version and runs again.")
        if not applied and not still:
            return _back(f"Nothing is parked for {name}.")
        return _back(f"{name}: {applied} applied, {still} still parked.")

    @post("/{name:str}/rebuild", opt=ADMIN, status_code=303)
    async def rebuild(
        self,
        viewer: NamedDependency[Viewer],
        container: NamedDependency[Container],
        name: FromPath[str],
    ) -> Redirect:
        """Start rebuilding a read model beside the live one (``projections.rebuild``); the
        page shows it rebuilding until the fresh copy is swapped in."""
        _operator(viewer)
        _known(container, viewer, name)
        if name in _rebuilds:
            return _back(f"{name} is already being rebuilt.")
        _rebuilds[name] = asyncio.create_task(_rebuild(container, viewer.principal.actor, name))
        return _back(f"Rebuilding {name}.")
