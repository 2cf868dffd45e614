"""Dependencies resolved one after another, not in a task group.

Litestar resolves each batch of a handler's independent dependencies concurrently, in an
anyio task group (litestar-org/litestar#4563). Chronicle's dependencies await no I/O: a
use case cached for the app, a command context made from headers, `If-Match` read. The
task group only cost time — a quarter of the API's commands per second — so the app
resolves the same batches, in the same order, one dependency at a time
(docs/decisions/0022-dependencies-in-order.md).
"""

from __future__ import annotations

from typing import Any

from litestar._kwargs.cleanup import DependencyCleanupGroup
from litestar._kwargs.dependencies import resolve_dependency
from litestar._kwargs.kwargs_model import KwargsModel
from litestar.connection import ASGIConnection


async def resolve_in_order(
    self: KwargsModel, connection: ASGIConnection[Any, Any, Any, Any], kwargs: dict[str, Any]
) -> DependencyCleanupGroup:
    """`KwargsModel.resolve_dependencies`, each batch's dependencies awaited in turn."""
    cleanup_group = DependencyCleanupGroup()
    for batch in self.dependency_batches:
        for dependency in batch:
            await resolve_dependency(dependency, connection, kwargs, cleanup_group)
    return cleanup_group


def resolve_dependencies_in_order() -> None:
    """Make every Litestar app of this process resolve dependencies in turn."""
    KwargsModel.resolve_dependencies = resolve_in_order  # type: ignore[method-assign]
