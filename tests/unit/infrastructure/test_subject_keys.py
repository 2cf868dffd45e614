"""Sealed values: opened only with every key they name, at the place they were sealed for."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import msgspec
import pytest

from infrastructure.subject_keys import (
    INSERT_KEYS,
    SELECT_KEYS,
    KeyRing,
    KeysNotLoaded,
    MasterKeyError,
    SealBroken,
    parse_master_key,
)

MASTER = os.urandom(32)


class Table:
    """The keys table in memory: what `KeyRing` inserts and selects."""

    def __init__(self) -> None:
        self.rows: dict[Any, tuple[Any, ...]] = {}

    def execute(self, sql: str, params: Any) -> Table:
        if sql == INSERT_KEYS:
            for key_id, tenant, subject, wrapped, _ in msgspec.json.decode(params[0]):
                # ids in hex, read back as UUIDs; the wrapped key in base64, read as bytes
                row = (UUID(hex=key_id), tenant, subject, base64.b64decode(wrapped))
                self.rows.setdefault(key_id, row)
            self.found: list[tuple[Any, ...]] = []
        else:
            assert sql == SELECT_KEYS
            self.found = [self.rows[key] for key in params[0] if key in self.rows]
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.found

    @contextmanager
    def cursor(self) -> Iterator[Table]:
        yield self


def ring(table: Table, master: bytes = MASTER) -> KeyRing:
    return KeyRing(master, table.cursor)  # type: ignore[arg-type]


def stored(table: Table, keys: KeyRing, used: set[str]) -> None:
    keys.store_now(used)
    assert not keys.unstored(used)


def test_a_value_opens_in_another_process_once_its_keys_are_stored() -> None:
    table, used = Table(), set[str]()
    sealed = ring(table).seal("acme", ["user:ada"], {"text": "hi"}, b"here", used)
    assert "hi" not in repr(sealed) and sealed["sealed"] == 1
    with pytest.raises(SealBroken, match="gone"):
        ring(table).open(sealed, b"here")  # the key was never stored
    writer = ring(table)
    sealed = writer.seal("acme", ["user:ada"], {"text": "hi"}, b"here", used := set())
    stored(table, writer, used)
    assert ring(table).open(sealed, b"here") == {"text": "hi"}


def test_a_value_bound_to_two_subjects_needs_both_keys() -> None:
    table, used = Table(), set[str]()
    keys = ring(table)
    sealed = keys.seal("acme", ["conversation:c", "user:ada"], "both", b"here", used)
    stored(table, keys, used)
    assert len(sealed["keys"]) == 2 and ring(table).open(sealed, b"here") == "both"
    table.rows.pop(next(iter(table.rows)))  # one subject's key destroyed
    with pytest.raises(SealBroken):
        ring(table).open(sealed, b"here")


def test_a_value_moved_to_another_place_does_not_open() -> None:
    keys = ring(Table())
    sealed = keys.seal("acme", ["user:ada"], "x", b"event 1 content", set())
    with pytest.raises(SealBroken):
        keys.open(sealed, b"event 2 content")


def test_a_changed_byte_of_the_ciphertext_does_not_open() -> None:
    keys = ring(Table())
    sealed = keys.seal("acme", ["user:ada"], "x", b"here", set())
    raw = bytearray(base64.b64decode(sealed["ciphertext"]))
    raw[0] ^= 1
    with pytest.raises(SealBroken):
        keys.open(sealed | {"ciphertext": base64.b64encode(raw).decode()}, b"here")
    with pytest.raises(SealBroken):
        keys.open(sealed | {"keys": ["not a key id"]}, b"here")


def test_keys_made_under_another_master_key_do_not_open() -> None:
    table, used = Table(), set[str]()
    keys = ring(table)
    sealed = keys.seal("acme", ["user:ada"], "x", b"here", used)
    stored(table, keys, used)
    with pytest.raises(SealBroken, match="unwrap"):
        ring(table, os.urandom(32)).open(sealed, b"here")


def test_a_key_not_read_yet_is_not_read_where_reading_is_not_allowed() -> None:
    table, used = Table(), set[str]()
    keys = ring(table)
    sealed = keys.seal("acme", ["user:ada"], "x", b"here", used)
    stored(table, keys, used)
    reader = ring(table)
    with pytest.raises(KeysNotLoaded):
        reader.open(sealed, b"here", may_load=False)
    assert reader.open(sealed, b"here") == "x"
    assert reader.open(sealed, b"here", may_load=False) == "x"


def test_a_subject_keeps_its_key_in_a_process_and_the_key_is_stored_once() -> None:
    table, used = Table(), set[str]()
    keys = ring(table)
    first = keys.seal("acme", ["user:ada"], "a", b"1", used)
    second = keys.seal("acme", ["user:ada"], "b", b"2", used)
    other_tenant = keys.seal("globex", ["user:ada"], "c", b"3", used)
    assert first["keys"] == second["keys"] != other_tenant["keys"]
    assert len(keys.unstored(used)) == 2
    stored(table, keys, used)
    assert len(table.rows) == 2


@pytest.mark.parametrize("text", [None, "", "short", base64.b64encode(b"x" * 31).decode()])
def test_a_master_key_that_is_not_32_bytes_of_base64_is_refused(text: str | None) -> None:
    with pytest.raises(MasterKeyError, match="CHRONICLE_MASTER_KEY"):
        parse_master_key(text)


def test_a_master_key_reads_in_either_base64_alphabet() -> None:
    raw = b"\xfb" * 32
    assert parse_master_key(base64.b64encode(raw).decode()) == raw
    assert parse_master_key(base64.urlsafe_b64encode(raw).decode()) == raw


def test_a_full_cache_forgets_its_oldest_stored_keys_and_reads_them_again() -> None:
    table = Table()
    keys = KeyRing(MASTER, table.cursor, max_keys=20)  # type: ignore[arg-type]
    sealed, used = [], set[str]()
    for n in range(15):  # stored
        sealed.append(keys.seal("acme", [f"user:{n}"], n, b"here", used))
    stored(table, keys, used)
    unstored = set[str]()
    for n in range(15, 60):  # made past the cache's size, some not stored yet
        sealed.append(keys.seal("acme", [f"user:{n}"], n, b"here", unstored))
    assert len(keys._keys) <= 20 + len(keys.unstored(unstored))  # never an unstored one lost
    stored(table, keys, unstored)
    assert [keys.open(value, b"here") for value in sealed] == list(range(60))
    again = keys.seal("acme", ["user:0"], "new", b"here", used := set())
    assert keys.unstored(used)  # user:0's key was forgotten here: its next value, a new key
    assert keys.open(again, b"here") == "new"
