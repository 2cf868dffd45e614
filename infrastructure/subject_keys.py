"""Data subjects' keys: a data key per subject, wrapped by the master key, kept in the table
``chronicle_subject_keys`` beside the log (never in it), cached per process; and the sealed
values made with them (AES-256-GCM). Knows nothing of events or of which fields are personal.

A sealed value names the keys it needs, so it opens without any domain knowledge
(docs/decisions/0028): ``{"sealed": 1, "keys": [key id, …], "nonce": b64, "ciphertext": b64}``.
One key: the subject's data key seals it. Several: a key derived (HKDF-SHA256) from all of
theirs, so losing any one of them (an erasure) loses the value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import msgspec
import psycopg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from infrastructure.read_models import SETUP_LOCK
from infrastructure.secrets import CREATE_SECRETS

KEYS_TABLE = "chronicle_subject_keys"
SEALED_VERSION = 1
NONCE_BYTES = 12
KEY_BYTES = 32
CHECK_NAME = "master-key-check"  # in chronicle_secrets: a constant sealed by the master key
CHECK_PLAINTEXT = b"chronicle master key"
DERIVED_CACHE_MAX = 100_000
# Keys a process holds in memory (about 0.5 KB each with their bookkeeping); past it, the
# oldest tenth is forgotten and read again from the table when needed.
KEYS_CACHE_MAX = 200_000
CREATE_KEYS = (
    f"CREATE TABLE IF NOT EXISTS {KEYS_TABLE} (key_id uuid PRIMARY KEY,"
    " tenant_id text NOT NULL, subject text NOT NULL, wrapped bytea NOT NULL,"
    " master_id text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());"
    f" CREATE INDEX IF NOT EXISTS {KEYS_TABLE}_subject ON {KEYS_TABLE} (tenant_id, subject)"
)
# The rows come as one JSON array of [key id, tenant, subject, wrapped in base64, master
# id]: written in C as each key is made, where five arrays would cost the writer's loop a
# Python call per element to encode (the database, on its own core, parses them instead).
INSERT_KEYS = (
    "INSERT INTO chronicle_subject_keys (key_id, tenant_id, subject, wrapped, master_id)"
    " SELECT (k->>0)::uuid, k->>1, k->>2, decode(k->>3, 'base64'), k->>4"
    " FROM json_array_elements(%s::text::json) AS k ON CONFLICT (key_id) DO NOTHING"
)
SELECT_KEYS = (
    "SELECT key_id, tenant_id, subject, wrapped FROM chronicle_subject_keys"
    " WHERE key_id = ANY(%s::uuid[])"
)
# An erasure, in the transaction of its event: the subjects' keys go, and with them the
# snapshots holding values sealed with them (a snapshot names its keys in its sealed state).
ERASE_KEYS = (
    "gone AS (DELETE FROM chronicle_subject_keys WHERE (tenant_id, subject) IN"
    " (SELECT * FROM unnest(%b::text[], %b::text[])) RETURNING key_id),"
    " shredded AS (DELETE FROM chronicle_snapshots s USING gone"
    " WHERE position(convert_to(replace(gone.key_id::text, '-', ''), 'UTF8') IN s.state) > 0)"
)
KEY_ID = re.compile(r"[0-9a-f]{32}")
MASTER_HINT = (
    "make one with: python -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())'"
)

Cursor = psycopg.Cursor[Any]
Connect = Callable[[], AbstractContextManager[Cursor]]  # a cursor in a committed transaction


class MasterKeyError(RuntimeError):
    """The master key is missing, malformed, or not the one this database's keys were made
    with: nothing may be written."""


class KeysNotLoaded(LookupError):
    """A sealed value needs a key this process has not read yet (when it may not read)."""


class SealBroken(ValueError):
    """A sealed value that does not open: its keys are gone or its bytes were altered."""


class KeyGone(SealBroken):
    """A sealed value whose key was destroyed: its subject was erased (a key row is written
    before any value sealed with it, so a missing one was deleted)."""


def parse_master_key(text: str | None) -> bytes:
    """The 32 bytes of ``CHRONICLE_MASTER_KEY`` (base64, standard or URL-safe)."""
    if not text:
        raise MasterKeyError(f"CHRONICLE_MASTER_KEY is not set; {MASTER_HINT}")
    try:
        raw = base64.b64decode(text.strip().replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise MasterKeyError(f"CHRONICLE_MASTER_KEY must be 32 bytes in base64; {MASTER_HINT}")
    return raw


def new_master_key() -> str:
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def master_id(master: bytes) -> str:
    """A short name of a master key (which wrapped a data key, for rotation)."""
    return hashlib.sha256(b"chronicle master id" + master).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class NewKey:
    """A data key made by this process, to be stored before anything sealed by it."""

    key_id: str  # 32 hex digits
    tenant_id: str
    subject: str
    wrapped: bytes
    master_id: str

    @property
    def row(self) -> bytes:
        """Its row as `INSERT_KEYS` reads it."""
        return msgspec.json.encode(
            (self.key_id, self.tenant_id, self.subject, _b64(self.wrapped), self.master_id)
        )


def key_rows(keys: Sequence[NewKey]) -> list[Any]:
    """The parameters of `INSERT_KEYS` for ``keys``."""
    return [(b"[" + b",".join([key.row for key in keys]) + b"]").decode()]


def _wrap_aad(key_id: str, tenant_id: str, subject: str) -> bytes:
    return bytes.fromhex(key_id) + f"{tenant_id}\0{subject}".encode()


def check_master(dsn: str, master: bytes) -> None:
    """Raise `MasterKeyError` unless ``master`` is the database's master key (the first
    master key a database sees becomes its own); creates the keys table."""
    aead = AESGCM(master)
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SETUP_LOCK,))
        row = conn.execute("SELECT to_regclass('chronicle_secrets') IS NOT NULL").fetchone()
        stored = None
        if row and row[0]:
            found = conn.execute(
                "SELECT secret FROM chronicle_secrets WHERE name = %s", (CHECK_NAME,)
            ).fetchone()
            stored = bytes(found[0]) if found else None
        if stored is not None:
            try:
                aead.decrypt(stored[:NONCE_BYTES], stored[NONCE_BYTES:], None)
            except InvalidTag:
                raise MasterKeyError(
                    "CHRONICLE_MASTER_KEY is not the master key of this database's data"
                    " keys; start with the one it was made with (or last rotated to)"
                ) from None
        conn.execute(CREATE_SECRETS)
        conn.execute(CREATE_KEYS)
        if stored is None:
            conn.execute(
                "INSERT INTO chronicle_secrets (name, secret) VALUES (%s, %s)",
                (CHECK_NAME, _sealed_check(master)),
            )


def _sealed_check(master: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(master).encrypt(nonce, CHECK_PLAINTEXT, None)


def rotate_master(dsn: str, old: bytes, new: bytes) -> int:
    """Re-wrap every data key wrapped by ``old`` with ``new``, and make ``new`` the
    database's master key, in one transaction; how many keys were re-wrapped. Writers are
    held off by the table lock while it runs (they must then be restarted with ``new``)."""
    check_master(dsn, old)
    old_aead, new_aead, new_id = AESGCM(old), AESGCM(new), master_id(new)
    with psycopg.connect(dsn) as conn:
        conn.execute("LOCK TABLE chronicle_subject_keys IN EXCLUSIVE MODE")
        rows = conn.execute(
            "SELECT key_id, tenant_id, subject, wrapped FROM chronicle_subject_keys"
            " WHERE master_id <> %s",
            (new_id,),
        ).fetchall()
        ids, rewrapped = [], []
        for key_id, tenant_id, subject, wrapped in rows:
            aad, wrapped = _wrap_aad(key_id.hex, tenant_id, subject), bytes(wrapped)
            try:
                key = old_aead.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)
            except InvalidTag:
                raise MasterKeyError(
                    f"data key {key_id} is not wrapped by this master key"
                ) from None
            nonce = os.urandom(NONCE_BYTES)
            ids.append(key_id)
            rewrapped.append(nonce + new_aead.encrypt(nonce, key, aad))
        conn.execute(
            "UPDATE chronicle_subject_keys k SET wrapped = r.wrapped, master_id = %s"
            " FROM unnest(%s::uuid[], %s::bytea[]) AS r(key_id, wrapped)"
            " WHERE k.key_id = r.key_id",
            (new_id, ids, rewrapped),
        )
        conn.execute(
            "UPDATE chronicle_secrets SET secret = %s WHERE name = %s",
            (_sealed_check(new), CHECK_NAME),
        )
    return len(ids)


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode()


class RandomPool:
    """``os.urandom`` drawn a block at a time and handed out in disjoint slices: a key and
    its nonces cost a slice, not a system call each. A forked child never shares a parent's
    unread bytes (AES-GCM must never see a nonce twice)."""

    BLOCK = 8192

    def __init__(self) -> None:
        self._block = b""
        self._at = 0
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._drop)

    def take(self, size: int) -> bytes:
        with self._lock:
            at = self._at
            if at + size > len(self._block):
                self._block, at = os.urandom(max(self.BLOCK, size)), 0
            self._at = at + size
            return self._block[at : at + size]

    def _drop(self) -> None:
        self._block, self._at = b"", 0


RANDOM = RandomPool()


def time_ordered_id(random: bytes) -> str:
    """A UUIDv7 in hex from 10 random bytes: time-ordered, so each batch's keys go at the
    end of the table's index, as the log's rows do (decision 8), not on random pages."""
    rand = int.from_bytes(random, "big")  # 80 bits: 12 of rand_a, 62 of rand_b, 6 spare
    value = (
        (time.time_ns() // 1_000_000) << 80
        | 0x7 << 76
        | (rand >> 68) << 64
        | 0b10 << 62
        | (rand & (2**62 - 1))
    )
    return f"{value:032x}"


class KeyRing:
    """Seals and opens values with subjects' data keys, made on first use and cached.

    A key made here is handed out at once and stored by the next commit that uses it
    (`unstored`), before that commit's events; a subject may so get several keys (one per
    process that made one), all destroyed together by its erasure. Opening reads a key
    this process has not seen from the table, through ``connect``.
    """

    def __init__(self, master: bytes, connect: Connect, max_keys: int = KEYS_CACHE_MAX) -> None:
        self._master = AESGCM(master)
        self.master_id = master_id(master)
        self._connect = connect
        self._keys: dict[str, bytes] = {}  # key id (hex) → data key
        self._owners: dict[str, tuple[str, str]] = {}  # key id → (tenant, subject)
        self._current: dict[tuple[str, str], str] = {}  # (tenant, subject) → key id made here
        self._unstored: dict[str, NewKey] = {}
        self._aeads: dict[tuple[str, ...], AESGCM] = {}
        self._lock = threading.Lock()
        self._max_keys = max_keys

    def seal(
        self, tenant_id: str, subjects: Sequence[str], value: Any, aad: bytes, used: set[str]
    ) -> dict[str, Any]:
        """``value`` (plain JSON) sealed for ``subjects``; the key ids it used added to ``used``."""
        ids, nonce, ciphertext = self._sealed(tenant_id, subjects, value, aad, used)
        return {
            "sealed": SEALED_VERSION,
            "keys": list(ids),
            "nonce": _b64(nonce),
            "ciphertext": _b64(ciphertext),
        }

    def sealed_json(
        self,
        tenant_id: str,
        subjects: Sequence[str],
        fields: dict[str, Any],
        aad: bytes,
        used: set[str],
    ) -> msgspec.Raw:
        """``fields`` (names to plain JSON values) sealed for ``subjects`` as the stored
        JSON object ``{"fields": [names], **seal(...)}``, written here at once: the
        write path's form (the transcoder copies it as it is)."""
        ids, nonce, ciphertext = self._sealed(tenant_id, subjects, fields, aad, used)
        names, keys = '","'.join(fields), '","'.join(ids)  # names and hex: nothing to escape
        return msgspec.Raw(
            f'{{"fields":["{names}"],"sealed":{SEALED_VERSION},"keys":["{keys}"],'
            f'"nonce":"{_b64(nonce)}","ciphertext":"{_b64(ciphertext)}"}}'.encode()
        )

    def _sealed(
        self, tenant_id: str, subjects: Sequence[str], value: Any, aad: bytes, used: set[str]
    ) -> tuple[tuple[str, ...], bytes, bytes]:
        if len(subjects) == 1:
            ids: tuple[str, ...] = (self._key_id(tenant_id, subjects[0]),)
        else:
            ids = tuple([self._key_id(tenant_id, s) for s in subjects])
        used.update(ids)
        nonce = RANDOM.take(NONCE_BYTES)
        return ids, nonce, self._aead(ids).encrypt(nonce, msgspec.json.encode(value), aad)

    def open(self, sealed: dict[str, Any], aad: bytes, *, may_load: bool = True) -> Any:
        """The value a sealed value holds; `SealBroken` when it cannot be opened, and
        `KeysNotLoaded` when it needs a key not read yet and ``may_load`` is false (on an
        event loop, which must not wait for the database)."""
        try:
            if sealed.get("sealed") != SEALED_VERSION:
                raise SealBroken(f"unknown sealed version {sealed.get('sealed')!r}")
            ids = tuple(sealed["keys"])
            aead = self._aeads.get(ids)
            if aead is None:
                if not may_load and any(key_id not in self._keys for key_id in ids):
                    raise KeysNotLoaded
                aead = self._aead(ids)
            nonce = binascii.a2b_base64(sealed["nonce"])
            plaintext = aead.decrypt(nonce, binascii.a2b_base64(sealed["ciphertext"]), aad)
            return msgspec.json.decode(plaintext)
        except SealBroken:
            raise
        except (InvalidTag, KeyError, TypeError, ValueError, binascii.Error) as error:
            raise SealBroken(f"does not open ({type(error).__name__})") from None

    def unstored(self, used: Iterable[str]) -> list[NewKey]:
        """The keys among ``used`` not stored yet: the commit that used them stores them."""
        if not self._unstored:
            return []
        return [key for key_id in used if (key := self._unstored.get(key_id)) is not None]

    def stored(self, keys: Iterable[NewKey]) -> None:
        """These keys are in the table now."""
        for key in keys:
            self._unstored.pop(key.key_id, None)

    def store_now(self, used: Iterable[str]) -> None:
        """Store the unstored keys among ``used`` at once (for writes outside a commit)."""
        if keys := self.unstored(used):
            with self._connect() as cursor:
                cursor.execute(INSERT_KEYS, key_rows(keys))
            self.stored(keys)

    def held(self, tenant_id: str, subject: str) -> int:
        """How many data keys the tenant's subject has in the table."""
        with self._connect() as cursor:
            row = cursor.execute(
                "SELECT count(*) FROM chronicle_subject_keys WHERE tenant_id = %s AND subject = %s",
                (tenant_id, subject),
            ).fetchone()
        return int(_first(row))

    def forget(self, tenant_id: str, subject: str) -> None:
        """Drop a subject's keys from this process (it was erased): what they sealed is
        read again from the table, where they are gone."""
        with self._lock:
            gone = {k for k, owner in self._owners.items() if owner == (tenant_id, subject)}
            self._current.pop((tenant_id, subject), None)
            for key_id in gone:
                self._keys.pop(key_id, None)
                self._owners.pop(key_id, None)
                self._unstored.pop(key_id, None)
            for ids in [ids for ids in self._aeads if not gone.isdisjoint(ids)]:
                del self._aeads[ids]

    def _make_room(self) -> None:
        """Forget the oldest tenth of the cached keys once the cache is full (never one not
        stored yet): they are read again from the table when a value needs them, and a
        subject whose key this process made gets a new one with its next value."""
        if len(self._keys) < self._max_keys:
            return
        with self._lock:
            oldest = itertools.islice(self._keys, max(1, self._max_keys // 10))
            for key_id in [k for k in oldest if k not in self._unstored]:
                del self._keys[key_id]
                owner = self._owners.pop(key_id, None)
                if owner is not None and self._current.get(owner) == key_id:
                    del self._current[owner]
            self._aeads.clear()  # ciphers of the forgotten keys among them; made again

    def _key_id(self, tenant_id: str, subject: str) -> str:
        key_id = self._current.get((tenant_id, subject))
        if key_id is not None:
            return key_id
        self._make_room()
        drawn = RANDOM.take(KEY_BYTES + NONCE_BYTES + 10)  # a key is made per subject
        key, nonce = drawn[:KEY_BYTES], drawn[KEY_BYTES : KEY_BYTES + NONCE_BYTES]
        made = time_ordered_id(drawn[KEY_BYTES + NONCE_BYTES :])
        wrapped = nonce + self._master.encrypt(nonce, key, _wrap_aad(made, tenant_id, subject))
        aead = AESGCM(key)
        with self._lock:
            self._keys[made] = key
            self._owners[made] = (tenant_id, subject)
            self._aeads[(made,)] = aead
            self._unstored[made] = NewKey(made, tenant_id, subject, wrapped, self.master_id)
            return self._current.setdefault((tenant_id, subject), made)

    def _aead(self, ids: tuple[str, ...]) -> AESGCM:
        aead = self._aeads.get(ids)
        if aead is not None:
            return aead
        missing = [key_id for key_id in ids if key_id not in self._keys]
        if missing:
            self._load(missing)
        keys = [self._keys[key_id] for key_id in ids]
        if len(keys) == 1:
            aead = AESGCM(keys[0])
        else:
            info = b"chronicle sealed v1:" + ",".join(ids).encode()
            derived = HKDF(hashes.SHA256(), KEY_BYTES, None, info).derive(b"".join(keys))
            aead = AESGCM(derived)
        with self._lock:  # not a key `forget` dropped meanwhile
            if all(key_id in self._keys for key_id in ids):
                if len(self._aeads) >= DERIVED_CACHE_MAX:
                    self._aeads.clear()
                self._aeads[ids] = aead
        return aead

    def _load(self, ids: list[str]) -> None:
        if not all(type(key_id) is str and KEY_ID.fullmatch(key_id) for key_id in ids):
            raise SealBroken("names a key id that is not one")
        self._make_room()
        try:
            with self._connect() as cursor:
                rows = cursor.execute(SELECT_KEYS, (ids,)).fetchall()
        except Exception as error:  # the library's own errors wrap the driver's
            raise psycopg.OperationalError(f"data keys could not be read: {error}") from error
        for row in rows:
            uuid_id, tenant_id, subject, wrapped = _columns(row)
            key_id, wrapped = uuid_id.hex, bytes(wrapped)
            try:
                key = self._master.decrypt(
                    wrapped[:NONCE_BYTES],
                    wrapped[NONCE_BYTES:],
                    _wrap_aad(key_id, tenant_id, subject),
                )
            except InvalidTag:
                raise SealBroken(f"key {key_id} does not unwrap") from None
            self._keys[key_id] = key
            self._owners[key_id] = (tenant_id, subject)
        if gone := [key_id for key_id in ids if key_id not in self._keys]:
            raise KeyGone(f"its key {gone[0]} is gone")


def _columns(row: Any) -> tuple[UUID, str, str, bytes]:
    if isinstance(row, dict):
        return row["key_id"], row["tenant_id"], row["subject"], row["wrapped"]
    return row[0], row[1], row[2], row[3]


def _first(row: Any) -> Any:
    if isinstance(row, dict):
        return next(iter(row.values()))
    return row[0] if row else 0
