"""Presence and typing: ephemeral events on core NATS, never in the log or the stream,
delivered by the live hub to every client following the conversation or document (as
token deltas are), with no position, so a resume never expects them again.

A typing signal expires by itself: it says for how long it holds (`TYPING_S`), and a
client that hears no other lets it lapse.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from infrastructure.connections import NatsConnection
from infrastructure.deltas import DELTA_PREFIX

TYPING_S = 5
JSON = JSONFormat()


class Signals:
    """Publishes who is present in a conversation, and who is typing there; and where the
    editors of a document stand."""

    def __init__(self, nats: NatsConnection) -> None:
        self._nats = nats

    async def presence(
        self, tenant: str, conversation_id: str, user_id: str, online: bool
    ) -> str | None:
        """Say a user arrived in a conversation or left it; the signal's id (`None` when
        it could not be sent)."""
        state = "online" if online else "offline"
        data = {"user": user_id, "state": state}
        return await self._publish(tenant, "conversation", conversation_id, "presence", data)

    async def typing(self, tenant: str, conversation_id: str, user_id: str) -> None:
        data = {"user": user_id, "expires_in_s": TYPING_S}
        await self._publish(tenant, "conversation", conversation_id, "typing", data)

    async def editor(self, tenant: str, document_id: str, data: dict[str, Any]) -> None:
        """An editor of a document joined, moved its cursor or left."""
        await self._publish(tenant, "document", document_id, "presence", data)

    async def _publish(
        self, tenant: str, category: str, aggregate_id: str, kind: str, data: dict[str, Any]
    ) -> str | None:
        client = self._nats.client
        if client is None or not client.is_connected:
            return None  # a signal is worth nothing late; the next one will do
        signal_id = uuid.uuid4().hex
        attributes = {
            "id": signal_id,
            "source": f"/chronicle/{tenant}/{category}",
            "type": f"chronicle.{category}.{kind}",
            "subject": aggregate_id,
            "time": datetime.now(UTC),
            "datacontenttype": "application/json",
            "tenant": tenant,
        }
        subject = f"{DELTA_PREFIX}.{tenant}.{category}.{aggregate_id}.{kind}"
        await client.publish(subject, JSON.write(CloudEvent(attributes, data)))
        return signal_id
