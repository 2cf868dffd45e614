"""The composition root: builds the object graph from settings. Nothing else constructs
infrastructure; handlers receive what they need from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from application.commands import CommandRunner
from application.conversations import Conversations
from application.identity import Identity
from application.streams import Streams
from infrastructure.event_store import PostgresEventStore
from infrastructure.settings import Settings


@dataclass
class Container:
    """Everything a Chronicle process uses, built once at start-up."""

    settings: Settings
    store: PostgresEventStore
    runner: CommandRunner
    conversations: Conversations
    identity: Identity
    streams: Streams

    @classmethod
    def build(cls, settings: Settings) -> Container:
        store = PostgresEventStore(settings)
        runner = CommandRunner(store)
        return cls(
            settings=settings,
            store=store,
            runner=runner,
            conversations=Conversations(store, runner),
            identity=Identity(store, runner),
            streams=Streams(store),
        )

    def close(self) -> None:
        self.store.close()
