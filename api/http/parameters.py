"""The parameters an operation reads (its handler's and its dependencies'), as the client
sends them: where (query, header, path) and under what name (``If-Match``, ``type``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from litestar.handlers.base import BaseRouteHandler
from litestar.params import ParameterKwarg
from litestar.typing import FieldDefinition


@dataclass(frozen=True)
class Declared:
    python_name: str
    place: str  # "query", "header", "path" or "cookie"
    name: str
    field: FieldDefinition


@cache
def declared_parameters(handler: BaseRouteHandler) -> tuple[Declared, ...]:
    signatures = [handler.parsed_fn_signature] + [
        provider.parsed_fn_signature for provider in handler.resolve_dependencies().values()
    ]
    return tuple(
        Declared(name, kwarg.param_type.value, kwarg.name or name, field)
        for signature in signatures
        for name, field in signature.parameters.items()
        if isinstance(kwarg := field.kwarg_definition, ParameterKwarg)
    )
