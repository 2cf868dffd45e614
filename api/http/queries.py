"""Query parameters read as written, once each.

Litestar converts query strings leniently (``1e3`` or ``5.0`` for an integer, ``null``
for a missing value, a number for a time) and takes one of a repeated parameter. The
OpenAPI document promises less, so this ``before_request`` hook holds the query to it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal, get_args, get_origin

import msgspec
from litestar import Request
from litestar.handlers.base import BaseRouteHandler

from api.http.bodies import invalid
from api.http.parameters import declared_parameters
from domain.errors import InvalidValue
from domain.values import in_utc

WHOLE_NUMBER = re.compile(r"^-?[0-9]+$")
AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]
Rule = Callable[[str], str | None]  # the reason a raw value is refused, or None


def _aware_time(raw: str) -> str | None:
    try:
        in_utc("", msgspec.convert(raw, AwareTime, strict=True))
    except (msgspec.ValidationError, InvalidValue):
        return "must be an RFC 3339 time with its offset"
    return None


def _rule(annotation: Any) -> Rule | None:
    if annotation is int:
        return lambda raw: None if WHOLE_NUMBER.fullmatch(raw) else "must be a whole number"
    if annotation is datetime:
        return _aware_time
    if get_origin(annotation) is Literal:
        allowed = {str(value) for value in get_args(annotation)}
        return lambda raw: (
            None if raw in allowed else f"must be one of {', '.join(sorted(allowed))}"
        )
    return None


@cache
def declared_queries(handler: BaseRouteHandler) -> tuple[tuple[str, Rule | None], ...]:
    """The query parameters a handler declares, each with the rule of its type."""
    return tuple(
        (p.name, _rule(p.value_type)) for p in declared_parameters(handler) if p.place == "query"
    )


async def strict_queries(request: Request[Any, Any, Any]) -> None:
    for name, rule in declared_queries(request.route_handler):
        values = request.query_params.getall(name, [])
        if len(values) > 1:
            raise invalid(name, "must be given once", "query")
        if values and rule is not None and (reason := rule(values[0])) is not None:
            raise invalid(name, reason, "query")
