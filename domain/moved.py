"""Old topics of classes that moved.

A stored event names its class by topic (``module:Aggregate.Event``), and the log keeps
every topic it was ever written with. A module that is renamed keeps its old name here,
so events and snapshots stored under it still resolve (the library's `register_topic`).
"""

from __future__ import annotations

from types import ModuleType

from eventsourcing.utils import register_topic

from domain import projection_log

MOVED_MODULES: dict[str, ModuleType] = {
    "domain.operations": projection_log,  # issue 18: the name is kept for shared documents
}

for old_name, module in MOVED_MODULES.items():
    register_topic(old_name, module)
