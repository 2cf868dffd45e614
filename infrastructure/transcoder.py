"""The stored events' JSON: the `eventsourcing` library's tagged format, encoded by msgspec.

Must write nothing the library's own `JSONTranscoder` would not read back as it was.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec
from eventsourcing.persistence import JSONTranscoder

PLAIN = frozenset({str, int, bool, type(None)})  # written alike by json and msgspec


class NotPlain(Exception):
    """A value the fast path leaves to the library's encoder."""


class ChronicleTranscoder(JSONTranscoder):
    """`JSONTranscoder` whose ``encode`` tags values (``{"_type_": …, "_data_": …}`` by
    the registered transcodings, as the library does) and lets msgspec write the JSON
    (decision 6). The bytes are the library's but for
    floats, which read back the same though msgspec writes ``1.5e300`` where ``json``
    writes ``1.5e+300``. Anything msgspec would write otherwise (a tuple, a subclass of a
    JSON type, a key that is not a string, a float that is not finite, an integer past 64
    bits) goes through the library's encoder. Decoding is the library's.
    """

    def __init__(self) -> None:
        super().__init__()
        self._json = msgspec.json.Encoder()

    def encode(self, obj: Any) -> bytes:
        try:
            return self._json.encode(self._tagged(obj))
        except (NotPlain, OverflowError):
            return super().encode(_decoded_raw(obj))

    def _tagged(self, value: Any) -> Any:
        kind = type(value)
        if kind in PLAIN or kind is msgspec.Raw:  # Raw: JSON written already (sealed values)
            return value
        if kind is dict:
            tagged = {}
            for key, item in value.items():
                if type(key) is not str:
                    raise NotPlain
                tagged[key] = item if type(item) in PLAIN else self._tagged(item)
            return tagged
        if kind is list:
            return [item if type(item) in PLAIN else self._tagged(item) for item in value]
        if kind is float:
            if not math.isfinite(value):
                raise NotPlain
            return value
        if (transcoding := self.types.get(kind)) is None:
            raise NotPlain
        data = transcoding.encode(value)
        return {
            "_type_": transcoding.name,
            "_data_": data if type(data) in PLAIN else self._tagged(data),
        }


def _decoded_raw(obj: Any) -> Any:
    """The state with its JSON written already (`msgspec.Raw`, at the top level) read
    back, for the library's encoder, which does not know it."""
    if type(obj) is dict and any(type(value) is msgspec.Raw for value in obj.values()):
        return {
            key: msgspec.json.decode(value) if type(value) is msgspec.Raw else value
            for key, value in obj.items()
        }
    return obj
