"""Writes the SDK's typed surface from Chronicle's OpenAPI document: ``models.py`` (a msgspec
Struct per schema) and ``operations.py`` (a method per operation, sync and async).

    python clients/python/generate.py http://127.0.0.1:8000/schema/openapi.json

(or a path to a saved document). The written files are committed; a test regenerates them
from the document the app serves and checks that nothing changes.
"""

from __future__ import annotations

import json
import keyword
import re
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).parent / "chronicle_client"
REF = "#/components/schemas/"
# Operations written by hand in the client (an SSE stream is not a JSON answer).
HAND_WRITTEN = {"followLive"}
# Headers the client sets itself, or that a method does not expose.
MANAGED_HEADERS = {"Idempotency-Key", "If-Match", "If-None-Match", "Last-Event-ID"}
HEADER_ARGUMENTS = {"X-Request-ID": "request_id", "traceparent": "traceparent"}
RESERVED = {"if_match", "idempotency_key", "read_your_writes", "request_id", "traceparent", "self"}


def snake(name: str) -> str:
    """``postMessage`` → ``post_message``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def identifier(name: str, *, argument: bool = True) -> str:
    """A Python name for a parameter or field (``from`` → ``from_``); an argument also
    steers clear of the names the methods take themselves."""
    name = re.sub(r"\W", "_", name)
    clash = keyword.iskeyword(name) or (argument and name in RESERVED)
    return name + "_" if clash else name


def python_type(schema: dict[str, Any]) -> str:
    """The annotation for a JSON schema, as msgspec decodes it."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(REF)
        return "JsonValue" if name == "JsonValue" else name
    for union in ("anyOf", "oneOf"):
        if union in schema:
            types = [python_type(s) for s in schema[union] if s.get("type") != "null"]
            nullable = any(s.get("type") == "null" for s in schema[union])
            return " | ".join(dict.fromkeys(types + (["None"] if nullable else [])))
    if "enum" in schema:
        return "Literal[" + ", ".join(repr(v) for v in schema["enum"]) + "]"
    kind = schema.get("type")
    if kind == "string":
        return "str"
    if kind == "integer":
        return "int"
    if kind == "number":
        return "float"
    if kind == "boolean":
        return "bool"
    if kind == "null":
        return "None"
    if kind == "array":
        return f"list[{python_type(schema.get('items', {}))}]"
    if kind == "object" and "properties" not in schema:
        extra = schema.get("additionalProperties")
        value = python_type(extra) if isinstance(extra, dict) else "Any"
        return f"dict[str, {value}]"
    return "Any"


def _optional(annotation: str) -> str:
    return (
        annotation if annotation.endswith("None") or annotation == "Any" else f"{annotation} | None"
    )


def _docstring(*paragraphs: str, indent: str) -> list[str]:
    """A docstring of ``paragraphs``, wrapped, at ``indent``."""
    lines: list[str] = []
    for paragraph in paragraphs:
        text = " ".join(paragraph.split()).replace("\\", "\\\\").replace('"""', "'''")
        lines += [*([""] if lines else []), *(textwrap.wrap(text, 92 - len(indent)) or [""])]
    if len(lines) == 1:
        return [f'{indent}"""{lines[0]}"""']
    body = [f"{indent}{line}" if line else "" for line in lines[1:]]
    return [f'{indent}"""{lines[0]}', *body, f'{indent}"""']


def struct(name: str, schema: dict[str, Any]) -> list[str]:
    """One Struct: required fields without a default, the others with the schema's
    default (or ``None``), none sent when left at it."""
    lines = [f"class {name}(Struct, kw_only=True, omit_defaults=True):"]
    lines += _docstring(schema.get("description") or f"The `{name}` schema.", indent="    ")
    required = set(schema.get("required", []))
    for field, spec in schema.get("properties", {}).items():
        annotation = python_type(spec)
        attribute = identifier(field, argument=False)
        rename = "" if attribute == field else f"name={field!r}"
        if field in required:
            value = f" = field({rename})" if rename else ""
        elif "default" in spec:
            default = spec["default"]
            if isinstance(default, list | dict) and default:
                extra = f", {rename}" if rename else ""
                value = f" = field(default_factory=lambda: {default!r}{extra})"
            else:
                value = (
                    f" = field(default={default!r}{', ' + rename if rename else ''})"
                    if rename
                    else f" = {default!r}"
                )
        else:
            annotation = _optional(annotation)
            value = f" = field(default=None, {rename})" if rename else " = None"
        lines.append(f"    {attribute}: {annotation}{value}")
    return lines


def models(document: dict[str, Any]) -> str:
    schemas = document["components"]["schemas"]
    lines = [
        '"""The bodies Chronicle reads and answers, one msgspec Struct per schema of its OpenAPI',
        "document. Written by ``generate.py``: do not edit.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Any, Literal",
        "",
        "from msgspec import Struct, field",
        "",
        "JsonValue = Any  # any JSON value (Chronicle bounds its nesting and size)",
        "",
        '__all__ = ["JsonValue", '
        + ", ".join(f'"{n}"' for n in sorted(schemas) if n != "JsonValue")
        + "]",
    ]
    for name in sorted(schemas):
        if name != "JsonValue":
            lines += ["", "", *struct(name, schemas[name])]
    return "\n".join(lines) + "\n"


class Operation:
    """What a method needs to know of one operation."""

    def __init__(
        self, path: str, method: str, spec: dict[str, Any], schemas: dict[str, Any]
    ) -> None:
        self.path, self.method, self.spec = path, method.upper(), spec
        self.name = snake(spec["operationId"])
        parameters = spec.get("parameters", [])
        self.path_parameters = [p for p in parameters if p["in"] == "path"]
        self.path_parameters.sort(key=lambda p: path.find("{" + p["name"]))
        self.query = [p for p in parameters if p["in"] == "query"]
        headers = {p["name"] for p in parameters if p["in"] == "header"}
        self.idempotent_key = "Idempotency-Key" in headers
        self.if_match = "If-Match" in headers
        self.headers = [h for h in HEADER_ARGUMENTS if h in headers]
        self.reads_model = any(p["name"] == "min_position" for p in self.query)
        self.body_name: str | None = None
        self.body_fields: dict[str, Any] = {}
        self.body_required: set[str] = set()
        content = spec.get("requestBody", {}).get("content", {}).get("application/json")
        if content is not None:
            schema = content["schema"]
            ref = schema.get("$ref") or next(s["$ref"] for s in schema["oneOf"] if "$ref" in s)
            self.body_name = ref.removeprefix(REF)
            body = schemas[self.body_name]
            self.body_fields = body.get("properties", {})
            self.body_required = set(body.get("required", []))
        success = {int(s): r for s, r in spec["responses"].items() if int(s) < 300}
        self.optional = 204 in success
        _, response = min((s, r) for s, r in success.items() if s != 204)
        self.tagged = self.method == "GET" and "ETag" in response.get("headers", {})
        media = response.get("content", {})
        if "application/json" in media:
            self.answer = python_type(media["application/json"].get("schema", {}))
            self.text = False
        else:
            self.answer, self.text = "str", True
        self.item = self._page_item(schemas)

    def _page_item(self, schemas: dict[str, Any]) -> str | None:
        """The item type when the operation is paged by ``after``/``next``."""
        if not any(p["name"] == "after" for p in self.query):
            return None
        schema = schemas.get(self.answer, {})
        items = schema.get("properties", {}).get("items")
        if items is None or "next" not in schema.get("properties", {}):
            return "Any"
        return python_type(items.get("items", {}))

    def returns(self) -> str:
        if self.text:
            return "str"
        if self.tagged:
            return f"Tagged[{self.answer}]"
        return f"{self.answer} | None" if self.optional else self.answer

    def arguments(self, *, paging: bool = False) -> tuple[list[str], list[str]]:
        """The method's arguments, and the lines that make its `Call`."""
        positional = [
            f"{identifier(p['name'])}: {_path_type(p['schema'])}" for p in self.path_parameters
        ]
        keywords: list[str] = []
        names = [identifier(p["name"]) for p in self.path_parameters]
        for field, spec in self.body_fields.items():
            argument = identifier(field)
            if argument in names:
                raise ValueError(f"{self.name}: body field {field} clashes with a parameter")
            names.append(argument)
            annotation = python_type(spec)
            if field in self.body_required:
                keywords.append(f"{argument}: {annotation}")
            else:
                keywords.append(f"{argument}: {_optional(annotation)} = None")
        for parameter in self.query:
            if paging and parameter["name"] == "after":
                continue
            argument = identifier(parameter["name"])
            if argument in names:
                raise ValueError(f"{self.name}: query {argument} clashes with another argument")
            names.append(argument)
            annotation = _query_type(parameter["schema"])
            if parameter.get("required"):
                keywords.append(f"{argument}: {annotation}")
            else:
                keywords.append(f"{argument}: {_optional(annotation)} = None")
        if self.reads_model:
            keywords.append("read_your_writes: bool | None = None")
        if self.if_match:
            keywords.append("if_match: int | str | None = None")
        if self.idempotent_key:
            keywords.append("idempotency_key: str | None = None")
        keywords += [f"{HEADER_ARGUMENTS[h]}: str | None = None" for h in self.headers]
        # Required keywords first: a readable signature (all are keyword-only anyway).
        keywords.sort(key=lambda k: "=" in k)
        path = self.path
        for parameter in self.path_parameters:
            path = path.replace(
                "{" + parameter["name"] + "}", "{_segment(" + identifier(parameter["name"]) + ")}"
            )
        call = [f'"{self.method}"', f'f"{path}"' if self.path_parameters else f'"{path}"']
        if self.query:
            pairs = ", ".join(f'"{p["name"]}": {identifier(p["name"])}' for p in self.query)
            call.append(f"query={{{pairs}}}")
        if self.body_name is not None:
            required = ", ".join(
                f"{identifier(f, argument=False)}={identifier(f)}"
                for f in self.body_fields
                if f in self.body_required
            )
            optional = ", ".join(
                f"{identifier(f, argument=False)}={identifier(f)}"
                for f in self.body_fields
                if f not in self.body_required
            )
            parts = [p for p in (required, f"**_given({optional})" if optional else "") if p]
            call.append(f"body={self.body_name}({', '.join(parts)})")
        headers = ", ".join(f'"{h}": {HEADER_ARGUMENTS[h]}' for h in self.headers)
        if headers:
            call.append(f"headers={{{headers}}}")
        if self.if_match:
            call.append("if_match=if_match")
        if self.idempotent_key:
            call.append("idempotency_key=idempotency_key")
            call.append("command=True")
        if self.reads_model:
            call.append("read_your_writes=read_your_writes")
        return positional + (["*", *keywords] if keywords else []), call


def _path_type(schema: dict[str, Any]) -> str:
    return "str | UUID" if schema.get("format") == "uuid" else python_type(schema)


def _query_type(schema: dict[str, Any]) -> str:
    if schema.get("format") == "date-time":
        return "str | datetime"
    return python_type(schema)


def method(operation: Operation, asynchronous: bool) -> list[str]:
    prefix, wait = ("async ", "await ") if asynchronous else ("", "")
    arguments, call = operation.arguments()
    send = (
        "_send_text"
        if operation.text
        else "_send_tagged"
        if operation.tagged
        else "_send_optional"
        if operation.optional
        else "_send"
    )
    answer = "" if operation.text else f", {operation.answer}"
    lines = [f"    {prefix}def {operation.name}(", "        self,"]
    lines += [f"        {a}," if a != "*" else "        *," for a in arguments]
    lines.append(f"    ) -> {operation.returns()}:")
    summary = operation.spec.get("summary") or operation.spec["operationId"]
    route = f"``{operation.method} {operation.path}`` (``{operation.spec['operationId']}``)"
    lines += _docstring(summary, route, indent="        ")
    lines.append(f"        call = Call({', '.join(call)})")
    lines.append(f"        return {wait}self.{send}(call{answer})")
    if operation.item is not None:
        lines += ["", *pager(operation, asynchronous)]
    return lines


def pager(operation: Operation, asynchronous: bool) -> list[str]:
    """``iter_<name>``: every item of every page, following ``next`` from ``after``."""
    arguments, call = operation.arguments(paging=True)
    prefix, wait = ("async ", "await ") if asynchronous else ("", "")
    iterator = "AsyncIterator" if asynchronous else "Iterator"
    lines = [f"    {prefix}def iter_{operation.name}(", "        self,"]
    lines += [f"        {a}," if a != "*" else "        *," for a in arguments]
    lines.append("        after: str | None = None,")
    lines.append(f"    ) -> {iterator}[{operation.item}]:")
    lines += _docstring(
        f"Every item of `{operation.name}`, page after page (from ``after``).", indent="        "
    )
    lines.append("        while True:")
    lines.append(f"            call = Call({', '.join(call)})")
    lines.append(f"            page = {wait}self._send(call, {operation.answer})")
    items, after = (
        ('page["items"]', 'page["next"]')
        if operation.item == "Any"
        else ("page.items", "page.next")
    )
    if asynchronous:
        lines += [f"            for item in {items}:", "                yield item"]
    else:
        lines.append(f"            yield from {items}")
    lines.append(f"            after = {after}")
    lines.append("            if after is None:")
    lines.append("                return")
    return lines


def operations(document: dict[str, Any]) -> str:
    schemas = document["components"]["schemas"]
    found = [
        Operation(path, method, spec, schemas)
        for path, item in document["paths"].items()
        for method, spec in item.items()
        if spec["operationId"] not in HAND_WRITTEN
    ]
    found.sort(key=lambda o: o.name)
    lines = [
        '"""A method per operation of Chronicle\'s OpenAPI document, in a sync and an async',
        "flavour over the same core (`chronicle_client.core`). Written by ``generate.py``: do not",
        "edit.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from collections.abc import AsyncIterator, Iterator",
        "from datetime import datetime",
        "from typing import Any, Literal",
        "from uuid import UUID",
        "",
        "from chronicle_client.core import (",
        "    AsyncTransport, Call, SyncTransport, Tagged, _given, _segment,",
        ")",
        "{models}",
        "",
        f"OPERATION_IDS = frozenset({{{', '.join(repr(o.spec['operationId']) for o in found)}}})",
        "",
        "",
        "class Operations(SyncTransport):",
        '    """Every operation, blocking."""',
    ]
    for operation in found:
        lines += ["", *method(operation, asynchronous=False)]
    lines += [
        "",
        "",
        "class AsyncOperations(AsyncTransport):",
        '    """Every operation, for asyncio."""',
    ]
    for operation in found:
        lines += ["", *method(operation, asynchronous=True)]
    text = "\n".join(lines) + "\n"
    used = sorted(n for n in set(schemas) if re.search(rf"\b{n}\b", text))
    return text.replace("{models}", f"from chronicle_client.models import {', '.join(used)}")


def load(source: str) -> dict[str, Any]:
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=30) as answer:  # noqa: S310
            loaded: dict[str, Any] = json.load(answer)
            return loaded
    read: dict[str, Any] = json.loads(Path(source).read_text())
    return read


def formatted(path: Path, text: str) -> str:
    """``text`` as ``ruff`` fixes and formats it (with the repository's settings)."""
    for command in (["check", "--fix-only", "--exit-zero"], ["format"]):
        ruff = [sys.executable, "-m", "ruff", *command, "--stdin-filename", str(path), "-"]
        text = subprocess.run(ruff, input=text, capture_output=True, text=True, check=True).stdout
    return text


def generated(document: dict[str, Any]) -> dict[Path, str]:
    """The files the document makes, by path."""
    made = {
        PACKAGE / "models.py": models(document),
        PACKAGE / "operations.py": operations(document),
    }
    return {path: formatted(path, text) for path, text in made.items()}


def main() -> None:
    document = load(sys.argv[1])
    for path, text in generated(document).items():
        path.write_text(text)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
