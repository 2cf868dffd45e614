"""The OpenAPI document as the exact contract.

Litestar generates the paths, parameters and success answers from the route handlers;
this module completes what it cannot know, from the same handlers: the bodies' schemas
as msgspec enforces them (bounds, patterns, ``additionalProperties: false``), the
problem+json answers each operation can give, the headers it reads and sends, summaries
from docstrings, and no security requirement on public endpoints.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, get_args

import msgspec
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin, SwaggerRenderPlugin
from litestar.params import ParameterKwarg
from litestar.router import Router
from litestar.routes import HTTPRoute
from litestar.static_files import create_static_files_router

from api.http.commands import command_of
from api.http.fields import JSON_VALUE_SCHEMA, json_value_schema
from api.http.parameters import Declared, declared_parameters

PUBLIC_PREFIXES = ("/healthz", "/readyz", "/metrics", "/schema")
ASSETS_PATH = "/schema/assets"
ASSETS_DIR = Path(__file__).parent / "static" / "swagger-ui"
REF = "#/components/schemas/{name}"
PROBLEM_REF = {"$ref": REF.format(name="Problem")}
PROBLEM_TITLES = {
    400: "The request is not valid (each invalid field is named in `errors`)",
    401: "No API key, or one that is malformed, unknown or revoked",
    403: "The key lacks the scope this operation needs (for an operator metric: it is not"
    " an admin key of `_system`)",
    404: "Not found, or another tenant's (which is not revealed)",
    409: "Not allowed in the resource's current state, or a concurrent write won",
    412: "If-Match names a version that is not the current one",
    413: "The body is larger than 1 MiB",
    415: "The body is not application/json",
    422: "Idempotency-Key was already used with another request",
    429: "Over the key's rate limit (or, where noted, the tenant's daily budget)",
    503: "PostgreSQL or Valkey cannot be reached now; retry after Retry-After",
}


def _header(description: str, schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": schema}


INTEGER = {"type": "integer", "minimum": 0}
RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": _header("Requests per minute allowed to this key", INTEGER),
    "RateLimit-Remaining": _header("Requests left in this minute", INTEGER),
    "RateLimit-Reset": _header("Seconds until the minute ends", INTEGER),
    "RateLimit-Policy": _header("The limit and its window", {"type": "string"}),
}
RETRY_AFTER = _header("Seconds to wait before retrying", INTEGER)
ETAG = _header("The resource's version", {"type": "string", "pattern": '^"[0-9]+"$'})
REQUEST_ID = _header(
    "The request's id: the X-Request-ID sent when it was 1 to 200 visible ASCII characters,"
    " else one made for it; every log line of the request names it",
    {"type": "string", "pattern": r"^[\x21-\x7e]{1,200}$"},
)
POSITION = _header(
    "How far the read model had applied the log when it answered", {"type": "string"}
)


def problem_components() -> dict[str, Any]:
    return {
        "Problem": {
            "type": "object",
            "description": "An RFC 9457 problem document",
            "required": ["type", "title", "status"],
            "properties": {
                "type": {"type": "string", "format": "uri"},
                "title": {"type": "string"},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": {"type": "string"},
                "errors": {"type": "array", "items": {"$ref": REF.format(name="ProblemField")}},
            },
        },
        "ProblemField": {
            "type": "object",
            "required": ["field", "message", "source"],
            "properties": {
                "field": {"type": "string", "description": "The field, parameter or header"},
                "message": {"type": "string"},
                "source": {"enum": ["body", "query", "header", "path", "cookie"]},
            },
        },
    }


def _operations(app: Litestar) -> Iterator[tuple[str, str, HTTPRouteHandler]]:
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                for method in handler.http_methods:
                    yield route.path_format or "/", method.lower(), handler


def _structs(annotation: Any) -> Iterator[type[msgspec.Struct]]:
    """The msgspec Structs an annotation names (through unions, lists, Response[T])."""
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        yield annotation
    for argument in get_args(annotation):
        yield from _structs(argument)


def struct_schemas(app: Litestar) -> dict[str, Any]:
    """The schemas of every Struct a route reads or answers, as msgspec validates them."""
    types: set[Any] = set()
    for _, _, handler in _operations(app):
        signature = handler.parsed_fn_signature
        if (data := signature.parameters.get("data")) is not None:
            types.update(_structs(data.annotation))
        types.update(_structs(signature.return_type.annotation))
        for declared in (handler.responses or {}).values():  # what a streamed answer holds
            types.update(_structs(declared.data_container))
    _, components = msgspec.json.schema_components(
        sorted(types, key=lambda t: t.__name__), ref_template=REF
    )
    return components


CONSTRAINTS = ("ge", "le", "gt", "lt", "min_length", "max_length", "pattern", "description")


def _parameter_schema(parameter: Declared) -> dict[str, Any]:
    """A parameter's schema as msgspec validates it: the type of a value sent and the
    parameter's declared constraints."""
    annotation, field = parameter.value_type, parameter.field
    kwarg = field.kwarg_definition
    constraints = {
        name: value
        for name in CONSTRAINTS
        if isinstance(kwarg, ParameterKwarg) and (value := getattr(kwarg, name, None)) is not None
    }
    if annotation is datetime:
        constraints["tz"] = True  # as api.http.queries holds query times
    if constraints:
        annotation = Annotated[annotation, msgspec.Meta(**constraints)]
    schema = msgspec.json.schema(annotation)
    if field.has_default and field.default is not None:
        schema["default"] = field.default
    return schema


def _refine_parameters(handler: HTTPRouteHandler, operation: dict[str, Any]) -> None:
    declared = {(p.place, p.name): p for p in declared_parameters(handler)}
    for parameter in operation.get("parameters", []):
        found = declared.get((parameter["in"], parameter["name"]))
        if found is None:
            continue
        parameter["schema"] = _parameter_schema(found)
        parameter["required"] = parameter["in"] == "path" or not (
            found.field.has_default or found.field.is_optional
        )


def _problem_statuses(path: str, handler: HTTPRouteHandler, operation: dict[str, Any]) -> set[int]:
    """The problem+json answers an operation can give."""
    statuses = {401, 403, 429, 503}
    parameters = operation.get("parameters", [])
    if parameters or "requestBody" in operation:
        statuses.add(400)
    if "{" in path:
        statuses.add(404)
    if "requestBody" in operation:
        statuses |= {413, 415}
    names = {p["name"] for p in parameters}
    if command_of(handler) is not None:
        statuses.add(409)
    if "Idempotency-Key" in names:
        statuses.add(422)
    if "If-Match" in names:
        statuses.add(412)
    statuses.update(handler.opt.get("problems", ()))
    return statuses


def _problem(status: int, handler: HTTPRouteHandler) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if status != 401:
        headers |= {name: dict(h, required=False) for name, h in RATE_LIMIT_HEADERS.items()}
    if status in (429, 503):
        headers["Retry-After"] = RETRY_AFTER
    if status == 401:
        headers["WWW-Authenticate"] = _header("Bearer", {"type": "string"})
    notes = handler.opt.get("problem_notes", {})
    return {
        "description": notes.get(status, PROBLEM_TITLES[status]),
        "headers": headers,
        "content": {"application/problem+json": {"schema": PROBLEM_REF}},
    }


def _success_headers(
    status: int, handler: HTTPRouteHandler, operation: dict[str, Any]
) -> dict[str, Any]:
    headers = dict(RATE_LIMIT_HEADERS)
    if command_of(handler) is not None and status in (200, 201):
        headers["ETag"] = ETAG
        headers["Idempotent-Replayed"] = _header(
            "`true` when this answer replays the first one of an Idempotency-Key",
            {"const": "true"},
            required=False,
        )
    if status == 201:
        headers["Location"] = _header("Where the created resource is read", {"type": "string"})
    if handler.opt.get("read_model"):
        headers["Chronicle-Position"] = POSITION
    if any(p["name"] == "If-None-Match" for p in operation.get("parameters", [])):
        headers["ETag"] = ETAG
    return headers


def _refine_operation(path: str, handler: HTTPRouteHandler, operation: dict[str, Any]) -> None:
    description = (handler.fn.__doc__ or "").strip()
    if description:
        operation["summary"] = description.split("\n\n")[0].split(". ")[0].replace("\n", " ")
        operation["description"] = " ".join(description.split())
    _refine_parameters(handler, operation)
    if path.startswith(PUBLIC_PREFIXES):
        operation["security"] = []
    else:
        operation["responses"] = _responses(path, handler, operation)
    for answer in operation.get("responses", {}).values():
        answer.setdefault("headers", {})["X-Request-ID"] = REQUEST_ID


def _responses(path: str, handler: HTTPRouteHandler, operation: dict[str, Any]) -> dict[str, Any]:
    responses = {
        status: answer
        for status, answer in operation.get("responses", {}).items()
        if status.startswith(("2", "3"))
    }
    for status, answer in responses.items():
        answer["headers"] = _success_headers(int(status), handler, operation)
    if no_content := handler.opt.get("no_content"):
        responses["204"] = {"description": no_content, "headers": dict(RATE_LIMIT_HEADERS)}
    if any(p["name"] == "If-None-Match" for p in operation.get("parameters", [])):
        responses["304"] = {
            "description": "Not modified: the resource still has the ETag you named",
            "headers": {"ETag": ETAG, **RATE_LIMIT_HEADERS},
        }
    for status in sorted(_problem_statuses(path, handler, operation)):
        responses[str(status)] = _problem(status, handler)
    return dict(sorted(responses.items()))


PATH_PARAMETER = re.compile(r"\{([^}]+)\}")


def _link_created_resources(document: dict[str, Any]) -> None:
    """OpenAPI links from each 201 answer to the operations on what it created, so that
    clients (and the fuzzer's stateful phase) can follow them: ``POST /v1/runs`` answers
    ``id``, which ``/v1/runs/{run_id}/…`` take as ``run_id``."""
    paths, schemas = document["paths"], document["components"]["schemas"]
    for path, item in paths.items():
        created = item.get("post", {}).get("responses", {}).get("201")
        if created is None:
            continue
        answer = created.get("content", {}).get("application/json", {}).get("schema", {})
        name = answer.get("$ref", "").rsplit("/", 1)[-1]
        fields = list(schemas.get(name, {}).get("properties", {}))
        field = "id" if "id" in fields else next((f for f in fields if f.endswith("_id")), None)
        if field is None:
            continue
        links = created.setdefault("links", {})
        for target, target_item in paths.items():
            rest = target.removeprefix(path + "/")
            if target == rest or not rest.startswith("{"):
                continue
            name = rest[1:].split("}", 1)[0]
            parameters = {name: f"$response.body#/{field}"}
            for inherited in PATH_PARAMETER.findall(path):
                parameters[inherited] = f"$request.path.{inherited}"
            if set(PATH_PARAMETER.findall(target)) - set(parameters):
                continue  # it needs more than this answer gives
            for operation in target_item.values():
                links[operation["operationId"]] = {
                    "operationId": operation["operationId"],
                    "parameters": parameters,
                }


def refine(app: Litestar, generated: dict[str, Any]) -> dict[str, Any]:
    """The contract: Litestar's document completed as described above (a copy)."""
    document = copy.deepcopy(generated)
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components.update(struct_schemas(app))
    components.update(problem_components())
    components[JSON_VALUE_SCHEMA] = json_value_schema()
    for path, method, handler in _operations(app):
        operation = document.get("paths", {}).get(path, {}).get(method)
        if operation is not None:
            _refine_operation(path, handler, operation)
    _link_created_resources(document)
    return document


class ContractRendering(OpenAPIRenderPlugin):
    """Renders the contract instead of Litestar's bare document (computed once per app)."""

    def contract(self, app: Litestar, generated: dict[str, Any]) -> dict[str, Any]:
        document: dict[str, Any] | None = app.state.get("openapi_contract")
        if document is None:
            document = app.state["openapi_contract"] = refine(app, generated)
        return document


class ContractJson(ContractRendering, JsonRenderPlugin):
    def render(self, request: Any, openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, self.contract(request.app, openapi_schema))


class ContractSwagger(ContractRendering, SwaggerRenderPlugin):
    def render(self, request: Any, openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, self.contract(request.app, openapi_schema))


def contract_renderers() -> list[OpenAPIRenderPlugin]:
    """``/schema`` (Swagger UI, served from Chronicle's own copy: it works offline) and
    ``/schema/openapi.json``, both showing the contract."""
    return [
        ContractSwagger(
            path="/",
            js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            css_url=f"{ASSETS_PATH}/swagger-ui.css",
            standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
        ),
        ContractJson(path="/openapi.json"),
    ]


def docs_assets() -> Router:
    """Swagger UI's files (swagger-ui-dist, vendored unmodified with its licence)."""
    return create_static_files_router(
        path=ASSETS_PATH, directories=[ASSETS_DIR], include_in_schema=False
    )
