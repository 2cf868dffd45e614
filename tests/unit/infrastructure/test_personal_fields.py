"""Personal values sealed in a stored event, and opened by the decoders of its readers."""

from __future__ import annotations

import base64
import os
import uuid
from typing import Any
from uuid import UUID

import msgspec
import pytest
from eventsourcing.persistence import Mapper, StoredEvent

from domain.conversation import Conversation
from domain.erasure import DataSubject
from infrastructure.personal_fields import PersonalFields, SealingMapper
from infrastructure.stored_events import StoredEventDecoder
from infrastructure.subject_keys import KeyRing, SealBroken
from tests.unit.infrastructure.test_subject_keys import Table

TOPIC = "domain.conversation:Conversation.MessagePosted"


def stored_message(personal: PersonalFields, mapper: Mapper[UUID]) -> tuple[Conversation, bytes]:
    """A message posted by ada, as the event store encodes it for the log."""
    conversation = Conversation.start("acme", "Plans", [])
    conversation.post_message(uuid.uuid4(), "user", "the secret", "ada", None)
    event = conversation.collect_events()[-1]
    object.__setattr__(event, "metadata", {"tenant_id": "acme"})
    used: set[str] = set()
    sealed = personal.sealed_event(event, conversation, used)
    personal.ring.store_now(used)
    stored = mapper.to_stored_event(sealed)
    assert vars(event)["content"] == "the secret"  # the command's own event is untouched
    return conversation, stored.state


@pytest.fixture
def personal() -> PersonalFields:
    table = Table()
    return PersonalFields(KeyRing(os.urandom(32), table.cursor))  # type: ignore[arg-type]


def decoder(mapper: Mapper[UUID], personal: PersonalFields | None) -> StoredEventDecoder:
    return StoredEventDecoder(mapper, personal)


def test_a_messages_content_and_author_are_sealed_together(
    personal: PersonalFields, mapper: Mapper[UUID]
) -> None:
    conversation, state = stored_message(personal, mapper)
    stored: dict[str, Any] = msgspec.json.decode(state)
    assert b"the secret" not in state and b'"ada"' not in state
    assert "content" not in stored and "author" not in stored
    assert stored["_sealed"]["fields"] == ["content", "author"]
    assert len(stored["_sealed"]["keys"]) == 2  # the conversation's and ada's
    typed = decoder(mapper, personal).typed(7, conversation.id, 2, TOPIC, state)
    assert (typed.content, typed.author) == ("the secret", "ada")  # type: ignore[attr-defined]
    recorded = decoder(mapper, personal).recorded(7, conversation.id, 2, TOPIC, state)
    assert recorded.data["content"] == "the secret" and "_sealed" not in recorded.data


def test_the_relays_decoder_leaves_them_sealed(
    personal: PersonalFields, mapper: Mapper[UUID]
) -> None:
    conversation, state = stored_message(personal, mapper)
    recorded = decoder(mapper, None).recorded(7, conversation.id, 2, TOPIC, state)
    assert "content" not in recorded.data and recorded.data["_sealed"]["sealed"] == 1


def test_values_that_do_not_open_park_a_projection_and_read_as_null(
    personal: PersonalFields, mapper: Mapper[UUID]
) -> None:
    conversation, state = stored_message(personal, mapper)
    stored: dict[str, Any] = msgspec.json.decode(state)
    raw = bytearray(base64.b64decode(stored["_sealed"]["ciphertext"]))
    raw[-1] ^= 1
    stored["_sealed"]["ciphertext"] = base64.b64encode(raw).decode()
    broken = msgspec.json.encode(stored)
    with pytest.raises(SealBroken, match="position 7: personal field 'content', 'author'"):
        decoder(mapper, personal).typed(7, conversation.id, 2, TOPIC, broken)
    recorded = decoder(mapper, personal).recorded(7, conversation.id, 2, TOPIC, broken)
    assert recorded.data["content"] is None and recorded.data["author"] is None
    assert recorded.data["_privacy"] == {"content": "unreadable", "author": "unreadable"}


def test_sealed_values_do_not_open_in_another_event(
    personal: PersonalFields, mapper: Mapper[UUID]
) -> None:
    conversation, state = stored_message(personal, mapper)
    with pytest.raises(SealBroken):
        decoder(mapper, personal).typed(8, conversation.id, 3, TOPIC, state)  # another version


def test_a_load_opens_them_as_the_domain_declares_them(
    personal: PersonalFields, mapper: Mapper[UUID]
) -> None:
    conversation, state = stored_message(personal, mapper)
    assert isinstance(mapper, SealingMapper)
    mapper.personal = personal
    try:
        loaded = mapper.to_domain_event(StoredEvent(conversation.id, 2, TOPIC, state))
    finally:
        mapper.personal = None  # the fixture's mapper is the module's
    assert (loaded.content, loaded.author) == ("the secret", "ada")
    assert "_sealed" not in vars(loaded)


def erased_from(table: Table) -> None:
    """What an erasure does to the keys table: every row goes (here: every subject's)."""
    table.rows.clear()


def test_values_whose_key_is_gone_read_as_erased_and_project_as_none(
    mapper: Mapper[UUID],
) -> None:
    table, master = Table(), os.urandom(32)
    writer = PersonalFields(KeyRing(master, table.cursor))  # type: ignore[arg-type]
    conversation, state = stored_message(writer, mapper)
    erased_from(table)
    reader = PersonalFields(KeyRing(master, table.cursor))  # type: ignore[arg-type]
    typed = decoder(mapper, reader).typed(7, conversation.id, 2, TOPIC, state)
    assert (typed.content, typed.author) == (None, None)  # type: ignore[attr-defined]
    recorded = decoder(mapper, reader).recorded(7, conversation.id, 2, TOPIC, state)
    assert recorded.data["content"] is None and recorded.data["author"] is None
    assert recorded.data["_privacy"] == {"content": "erased", "author": "erased"}


def test_a_ring_forgets_an_erased_subjects_keys_when_its_reader_decodes_the_erasure(
    mapper: Mapper[UUID],
) -> None:
    table = Table()
    personal = PersonalFields(KeyRing(os.urandom(32), table.cursor))  # type: ignore[arg-type]
    conversation, state = stored_message(personal, mapper)
    reading = decoder(mapper, personal)
    for subject in ("user:ada", f"conversation:{conversation.id}"):
        for key_id, row in list(table.rows.items()):
            if row[2] == subject:
                del table.rows[key_id]
    still = reading.recorded(7, conversation.id, 2, TOPIC, state)
    assert still.data["content"] == "the secret"  # its keys are cached until forgotten
    erasure = DataSubject.erase_first("acme", "user:ada", "asked", "key:k1").collect_events()[-1]
    stored_erasure = mapper.to_stored_event(erasure)
    reading.recorded(8, erasure.originator_id, 2, stored_erasure.topic, stored_erasure.state)
    # ada's key is forgotten; the value, bound to ada and the conversation, no longer opens.
    gone = reading.recorded(7, conversation.id, 2, TOPIC, state)
    assert gone.data["content"] is None and gone.data["_privacy"]["content"] == "erased"
