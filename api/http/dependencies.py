"""What handlers receive by name through Litestar's dependency injection: the use cases,
the read models, and the API process's live parts, all from the composition root.

The container is built in the app's lifespan and kept in its state; a handler declares
``conversations: NamedDependency[Conversations]`` and never reaches into the app.
"""

from __future__ import annotations

from typing import Any

from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from api.bootstrap import Connections, Container
from api.http.commands import COMMAND_DEPENDENCIES
from api.http.reads import ReadModels
from application.alerts import Alerts
from application.budgets import Budgets
from application.conversations import Conversations
from application.documents import Documents
from application.erasure import Subjects
from application.identity import Identity
from application.notifications import Notifications
from application.people import UserTokens
from application.runs import Runs
from application.streams import Streams
from application.subject_exports import SubjectExports
from application.tasks import Tasks
from application.webhooks import Webhooks
from infrastructure.deltas import Deltas
from infrastructure.editors import Editors
from infrastructure.live_hub import LiveHub
from infrastructure.live_limits import LiveLimits
from infrastructure.live_rooms import LiveRooms
from infrastructure.signals import Signals


def provide_container(state: State) -> Container:
    container: Container = state.container
    return container


def provide_connections(container: NamedDependency[Container]) -> Connections:
    assert container.connections is not None, "the API connects in its lifespan"
    return container.connections


def provide_conversations(container: NamedDependency[Container]) -> Conversations:
    return container.conversations


def provide_documents(container: NamedDependency[Container]) -> Documents:
    return container.documents


def provide_runs(container: NamedDependency[Container]) -> Runs:
    return container.runs


def provide_tasks(container: NamedDependency[Container]) -> Tasks:
    return container.tasks


def provide_webhooks(container: NamedDependency[Container]) -> Webhooks:
    return container.webhooks


def provide_alerts(container: NamedDependency[Container]) -> Alerts:
    return container.alerts


def provide_subjects(container: NamedDependency[Container]) -> Subjects:
    return container.subjects


def provide_identity(container: NamedDependency[Container]) -> Identity:
    return container.identity


def provide_budgets(container: NamedDependency[Container]) -> Budgets:
    return container.budgets


def provide_streams(container: NamedDependency[Container]) -> Streams:
    return container.streams


def provide_subject_exports(container: NamedDependency[Container]) -> SubjectExports:
    return container.subject_exports


def provide_tokens(container: NamedDependency[Container]) -> UserTokens:
    return container.tokens


def provide_notifications(container: NamedDependency[Container]) -> Notifications:
    return container.notifications


def provide_read_models(container: NamedDependency[Container]) -> ReadModels:
    return ReadModels(container.reads, container.events)


def provide_hub(connections: NamedDependency[Connections]) -> LiveHub:
    return connections.hub


def provide_deltas(connections: NamedDependency[Connections]) -> Deltas:
    return connections.deltas


def provide_live_limits(connections: NamedDependency[Connections]) -> LiveLimits:
    return connections.live_limits


def provide_editors(connections: NamedDependency[Connections]) -> Editors:
    return connections.editors


def provide_rooms(connections: NamedDependency[Connections]) -> LiveRooms:
    return connections.rooms


def provide_signals(connections: NamedDependency[Connections]) -> Signals:
    return connections.signals


def _once(provide: Any) -> Provide:
    """Provided once per app: the same object for every request (so made per app)."""
    return Provide(provide, use_cache=True, sync_to_thread=False)


def dependencies() -> dict[str, Provide]:
    """The app's dependencies, made for each app (a cached one belongs to its app)."""
    return {
        **COMMAND_DEPENDENCIES,
        "container": _once(provide_container),
        "connections": _once(provide_connections),
        "conversations": _once(provide_conversations),
        "documents": _once(provide_documents),
        "runs": _once(provide_runs),
        "tasks": _once(provide_tasks),
        "webhooks": _once(provide_webhooks),
        "alerts": _once(provide_alerts),
        "identity": _once(provide_identity),
        "data_subjects": _once(provide_subjects),
        "tokens": _once(provide_tokens),
        "notifications": _once(provide_notifications),
        "budgets": _once(provide_budgets),
        "streams": _once(provide_streams),
        "subject_exports": _once(provide_subject_exports),
        "read_models": _once(provide_read_models),
        "hub": _once(provide_hub),
        "deltas": _once(provide_deltas),
        "live_limits": _once(provide_live_limits),
        "signals": _once(provide_signals),
        "editors": _once(provide_editors),
        "rooms": _once(provide_rooms),
    }
