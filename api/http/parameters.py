"""The parameters an operation reads (its handler's and its dependencies'), as the client
sends them: where (query, header, path) and under what name (``If-Match``, ``type``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin

from litestar.handlers.base import BaseRouteHandler
from litestar.params import ParameterKwarg
from litestar.typing import FieldDefinition


@dataclass(frozen=True)
class Declared:
    python_name: str
    place: str  # "query", "header", "path" or "cookie"
    name: str
    field: FieldDefinition

    @property
    def value_type(self) -> Any:
        """The type of a value sent (an optional parameter is left out, not sent as null)."""
        annotation = self.field.annotation
        if get_origin(annotation) not in (Union, UnionType):
            return annotation
        members = tuple(a for a in get_args(annotation) if a is not NoneType)
        return members[0] if len(members) == 1 else Union[members]  # noqa: UP007


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
