"""Request bodies: JSON only, decoded once, strictly, into the handler's declared type.

Litestar would decode a body to builtins and convert it loosely (``"5"`` for an int, a
number for a date); here the body is decoded by msgspec in strict mode straight into the
handler's ``data`` type, so the bounds and patterns the OpenAPI document shows are the
ones enforced, and every refusal is a 4xx that names its field.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import HTTPException, ValidationException
from litestar.handlers.base import BaseRouteHandler

from api.http.fields import plain_message
from domain.errors import InvalidValue

JSON_MEDIA_TYPE = re.compile(r"^application/(?:[\w.+-]+\+)?json$")
ERROR_PATH = re.compile(
    r"^(?P<message>.*?)(?: - at (?:`key` in )?`\$(?P<path>[^`]*)`)?$", re.DOTALL
)  # "`key` in": a key of the object at the path
NAMED_FIELD = re.compile(r"field `([^`]+)`")


class UnsupportedMediaType(HTTPException):
    status_code = 415


def check_json_media_type(content_type: str | None) -> None:
    """A body must be JSON: ``application/json`` or an ``application/*+json`` type."""
    media_type, _, parameters = (content_type or "").partition(";")
    charset = re.search(r"charset=\"?([\w-]+)", parameters, re.IGNORECASE)
    if not JSON_MEDIA_TYPE.fullmatch(media_type.strip().lower()) or (
        charset is not None and charset.group(1).lower() not in ("utf-8", "utf8")
    ):
        raise UnsupportedMediaType(
            detail=f"send the body as application/json, not {content_type or 'without a type'}",
            headers={"Accept-Post": "application/json"},
        )


@cache
def body_type(handler: BaseRouteHandler) -> Any:
    """The type a handler declares for its ``data`` (a msgspec Struct, or optional one)."""
    return handler.parsed_fn_signature.parameters["data"].annotation


def invalid(field: str, message: str, source: str = "body") -> ValidationException:
    """A 400 naming one invalid field (rendered as problem+json with an ``errors`` list)."""
    return ValidationException(
        detail=f"{field}: {message}", extra=[{"key": field, "message": message, "source": source}]
    )


def _field_and_message(error: msgspec.ValidationError) -> tuple[str, str]:
    """``Expected `int` <= 9 - at `$.usage.tokens``` → ("usage.tokens", "Expected …")."""
    match = ERROR_PATH.match(str(error))
    assert match is not None  # the pattern matches any text
    message, path = match.group("message"), (match.group("path") or "").lstrip(".")
    if named := NAMED_FIELD.search(message):  # a missing or unknown field
        path = f"{path}.{named.group(1)}" if path else named.group(1)
    return path or "body", plain_message(message)


def _whole_numbers(value: Any) -> Any:
    """``value`` with every float that is a whole number (``9.0``) made an int: JSON has
    one number type, and JSON Schema calls ``9.0`` an integer."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    if isinstance(value, dict):
        return {key: _whole_numbers(item) for key, item in value.items()}
    return value


def decode_body(body: bytes | str, target: Any) -> Any:
    """``body`` decoded strictly into ``target``; a 400 naming the field otherwise."""
    try:
        try:
            return msgspec.json.decode(body, type=target, strict=True)
        except msgspec.ValidationError as error:
            if "got `float`" not in str(error):
                raise
            # Rare: decoded again, whole-number floats taken as the integers they are.
            return msgspec.convert(_whole_numbers(msgspec.json.decode(body)), target, strict=True)
    except msgspec.ValidationError as error:
        raise invalid(*_field_and_message(error)) from None
    except msgspec.DecodeError as error:
        raise invalid("body", f"not valid JSON: {error}") from None
    except RecursionError:
        raise invalid("body", "JSON nested too deeply") from None
    except InvalidValue as error:  # a struct's own check of a JSON value (see fields.py)
        raise invalid(error.field, error.message) from None


class ChronicleRequest(Request[Any, Any, Any]):
    """A request whose JSON body is checked and decoded as described above."""

    async def json(self) -> Any:
        body = await self.body()
        check_json_media_type(self.headers.get("content-type"))
        return decode_body(body, body_type(self.route_handler))
