"""Types of request fields and parameters: one definition gives both the bound msgspec
enforces and the one the OpenAPI document declares.

The bounds are the domain's (``domain/values.py`` and each aggregate's limits); strings
exclude NUL, which PostgreSQL cannot store.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar.params import PathParameter

from domain.agent_run import NAME_MAX_CHARS, REASON_MAX_CHARS, TEXT_MAX_CHARS
from domain.conversation import (
    CONTENT_MAX_CHARS,
    CONTENT_TYPE_PATTERN,
    TITLE_MAX_CHARS,
)
from domain.conversation import (
    NAME_MAX_CHARS as PARTICIPANT_MAX_CHARS,
)
from domain.people import USER_ID
from domain.task import TYPE_PATTERN
from domain.values import INT32_MAX, INT64_MAX, JSON_MAX_DEPTH, check_json

NO_NUL = r"^[^\x00]*$"
NOT_BLANK = r"^[^\x00]*[^\s\x00][^\x00]*$"
JSON_VALUE_SCHEMA = "JsonValue"

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=NAME_MAX_CHARS, pattern=NO_NUL)]
Title = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=TITLE_MAX_CHARS,
        pattern=NOT_BLANK,
        description="1 to 200 characters, not only whitespace",
    ),
]
Content = Annotated[str, msgspec.Meta(min_length=1, max_length=CONTENT_MAX_CHARS, pattern=NO_NUL)]
ContentType = Annotated[
    str,
    msgspec.Meta(
        pattern=CONTENT_TYPE_PATTERN,
        description="the content's media type, in lower case, e.g. text/markdown",
    ),
]
LongText = Annotated[str, msgspec.Meta(min_length=1, max_length=TEXT_MAX_CHARS, pattern=NO_NUL)]
Reason = Annotated[str, msgspec.Meta(max_length=REASON_MAX_CHARS, pattern=NO_NUL)]
Count = Annotated[int, msgspec.Meta(ge=0, le=INT32_MAX)]
TaskType = Annotated[
    str, msgspec.Meta(pattern=TYPE_PATTERN, description="1 to 100 of A-Z a-z 0-9 . - _")
]
Position = Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)]
JsonValue = Annotated[
    Any,
    msgspec.Meta(
        description=(
            f"Any JSON value nested at most {JSON_MAX_DEPTH} levels deep, without NUL in"
            " strings or keys, numbers within ±2^63"
        ),
        extra_json_schema={"$ref": f"#/components/schemas/{JSON_VALUE_SCHEMA}"},
    ),
]


PATTERN_MEANINGS = {
    NO_NUL: "must not contain NUL characters",
    NOT_BLANK: "must not be blank or contain NUL characters",
    CONTENT_TYPE_PATTERN: "must be a media type in lower case, such as text/markdown",
}


def plain_message(message: str) -> str:
    """A validation message in words where it would quote one of these patterns."""
    for pattern, meaning in PATTERN_MEANINGS.items():
        if f"matching regex {pattern!r}" in message:
            return meaning
    return message


def checked_json(field: str, value: Any) -> Any:
    """``value`` if every reader can hold it (raises the domain's `InvalidValue`)."""
    check_json(field, value)
    return value


def json_value_schema() -> dict[str, Any]:
    """The JSON Schema of `JsonValue` (recursive; the depth bound is in its description)."""
    ref = {"$ref": f"#/components/schemas/{JSON_VALUE_SCHEMA}"}
    return {
        "description": f"A JSON value nested at most {JSON_MAX_DEPTH} levels deep",
        "anyOf": [
            {"type": "null"},
            {"type": "boolean"},
            {"type": "number", "minimum": -INT64_MAX - 1, "maximum": INT64_MAX},
            {"type": "string", "pattern": NO_NUL},
            {"type": "array", "items": ref},
            {"type": "object", "additionalProperties": ref, "propertyNames": {"pattern": NO_NUL}},
        ],
    }


# A user of a tenant, as a path parameter: the identifier a user token's ``sub`` carries.
UserIdPath = Annotated[str, PathParameter(pattern=USER_ID.pattern, max_length=128)]
# A participant of a conversation, as a path parameter (participants are names).
ParticipantPath = Annotated[
    str, PathParameter(min_length=1, max_length=PARTICIPANT_MAX_CHARS, pattern=NO_NUL)
]
