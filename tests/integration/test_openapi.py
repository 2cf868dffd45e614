"""The OpenAPI document is the contract: named operations, exact bodies, declared problems
and headers, no security on public endpoints, and docs that work offline."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

PUBLIC = {"/healthz", "/readyz", "/metrics"}
CAMEL_CASE = re.compile(r"^[a-z]+(?:[A-Z][a-z]+)*$")


@pytest.fixture(scope="module")
def document(api_url: str) -> dict[str, Any]:
    response = httpx.get(f"{api_url}/schema/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_every_operation_is_named_and_summarised(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids)) >= 37
    assert all(CAMEL_CASE.fullmatch(i) for i in ids), ids
    assert all(operation.get("summary") for _, _, operation in operations(document))


def test_every_body_refuses_unknown_fields_and_bounds_its_values(
    document: dict[str, Any],
) -> None:
    schemas = document["components"]["schemas"]
    for path, method, operation in operations(document):
        body = operation.get("requestBody")
        if body is None:
            continue
        schema = body["content"]["application/json"]["schema"]
        name = schema.get("$ref", schema.get("oneOf", [{}])[0].get("$ref", "")).rsplit("/", 1)[-1]
        assert schemas[name]["additionalProperties"] is False, (method, path)
    post_message = schemas["PostMessage"]["properties"]
    assert post_message["tokens"]["anyOf"][0] == {
        "type": "integer",
        "minimum": 0,
        "maximum": 2**31 - 1,
    }
    assert post_message["content"]["pattern"] == r"^[^\x00]*$"
    assert schemas["Submit"]["properties"]["payload"]["$ref"].endswith("/JsonValue")


def test_public_endpoints_need_no_key_and_others_declare_their_problems(
    document: dict[str, Any],
) -> None:
    assert document["security"] == [{"apiKey": []}]
    for path, method, operation in operations(document):
        if path in PUBLIC:
            assert operation["security"] == [], path
            continue
        responses = operation["responses"]
        for status in ("401", "403", "429", "503"):
            problem = responses[status]["content"]["application/problem+json"]["schema"]
            assert problem == {"$ref": "#/components/schemas/Problem"}, (method, path, status)
        assert "Retry-After" in responses["429"]["headers"]
        if operation.get("requestBody"):
            assert {"400", "413", "415"} <= set(responses), (method, path)
        if "{" in path:
            assert "404" in responses, (method, path)


def test_headers_are_declared_where_they_are_read_and_sent(document: dict[str, Any]) -> None:
    paths = document["paths"]

    def parameters(path: str, method: str) -> set[str]:
        return {p["name"] for p in paths[path][method]["parameters"]}

    post_message = paths["/v1/conversations/{conversation_id}/messages"]["post"]
    assert {"Idempotency-Key", "If-Match", "X-Request-ID", "traceparent"} <= parameters(
        "/v1/conversations/{conversation_id}/messages", "post"
    )
    assert {"ETag", "Location", "RateLimit-Limit"} <= set(
        post_message["responses"]["201"]["headers"]
    )
    assert {"412", "422", "409"} <= set(post_message["responses"])
    assert "Last-Event-ID" in parameters("/v1/live", "get")
    conversation = paths["/v1/conversations/{conversation_id}"]["get"]
    assert "If-None-Match" in parameters("/v1/conversations/{conversation_id}", "get")
    assert "304" in conversation["responses"]
    assert "Chronicle-Position" in conversation["responses"]["200"]["headers"]
    cursor = next(p for p in paths["/v1/live"]["get"]["parameters"] if p["name"] == "cursor")
    assert cursor["schema"] == {
        "description": cursor["schema"]["description"],
        "type": "integer",
        "minimum": 0,
        "maximum": 2**63 - 1,
    }
    links = paths["/v1/conversations"]["post"]["responses"]["201"]["links"]
    assert links["postMessage"]["parameters"] == {"conversation_id": "$response.body#/id"}


def test_the_docs_page_works_offline(api_url: str) -> None:
    page = httpx.get(f"{api_url}/schema")
    assert page.status_code == 200
    scripts = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert scripts and all(src.startswith("/schema/assets/") for src in scripts), scripts
    assert "http://" not in page.text.split("<body>")[0].replace(api_url, "")
    for src in scripts:
        asset = httpx.get(f"{api_url}{src}")
        assert asset.status_code == 200 and len(asset.content) > 1000, src
