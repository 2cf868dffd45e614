"""The live stream against its OpenAPI operation, with the fuzzer's own generated inputs.

Schemathesis cannot drive an endpoint that streams until the client leaves, so this
check reads only the answer's status and head (bounded), for valid and invalid inputs.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.integration.conftest import KeyFactory

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def live_operation(api_url: str) -> Any:
    # The key is the test's own: the fuzzer varies everything else.
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
    schema = schemathesis.openapi.from_url(f"{api_url}/schema/openapi.json", config=config)
    return schema["/v1/live"]["GET"]


def _head_of_log(http: httpx.Client) -> int:
    return int(http.get("/v1/conversations").headers["Chronicle-Position"])


def test_live_answers_as_its_operation_declares(
    api_url: str, issue_key: KeyFactory, live_operation: Any
) -> None:
    headers = {"Authorization": f"Bearer {issue_key()}"}
    declared = set(live_operation.definition.raw["responses"])
    names = {p["name"].lower() for p in live_operation.definition.raw["parameters"]}

    def only_declared(case: Any) -> bool:
        """An undeclared parameter is ignored, as HTTP servers do; it is no refusal."""
        sent = {*(case.query or {}), *(case.headers or {})} - {"Authorization"}
        return {name.lower() for name in sent} <= names

    strategy = st.one_of(
        live_operation.as_strategy(GenerationMode.POSITIVE),
        live_operation.as_strategy(GenerationMode.NEGATIVE).filter(only_declared),
    )

    @settings(
        max_examples=60,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def answers(case: Any) -> None:
        request = case.as_transport_kwargs(base_url=api_url, headers=headers)
        request.pop("method")
        try:
            httpx.Request("GET", request["url"], params=request.get("params"))
        except httpx.InvalidURL:
            reject()  # longer than a URL this client sends; the bound is the schema's
        with (
            httpx.Client(timeout=10) as http,
            http.stream(
                "GET", **{k: v for k, v in request.items() if k in ("url", "params", "headers")}
            ) as response,
        ):
            assert str(response.status_code) in declared, response.status_code
            positive = case.meta is None or case.meta.generation.mode.is_positive
            if response.status_code == 200:
                assert response.headers["content-type"].startswith("text/event-stream")
                assert positive, case
                return
            assert response.headers["content-type"].startswith(PROBLEM)
            response.read()
            problem: dict[str, Any] = response.json()
            assert problem["status"] == response.status_code and "Traceback" not in response.text
            if positive:  # a valid request is refused only for a cursor beyond the head
                assert [e["field"] for e in problem["errors"]] in (["cursor"], ["Last-Event-ID"])
                with httpx.Client(base_url=api_url, headers=headers) as reader:
                    head = _head_of_log(reader)
                sent = case.headers.get("Last-Event-ID") if case.headers else None
                cursor = int(sent) if sent else int((case.query or {})["cursor"])
                assert cursor > head

    answers()
