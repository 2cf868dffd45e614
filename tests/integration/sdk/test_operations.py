"""The SDK covers the contract: a method for every operation of the OpenAPI document the
app serves, and its generated modules are what that document makes today."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from chronicle_client import AsyncClient, Client
from chronicle_client.operations import OPERATION_IDS

SDK = Path(__file__).parents[3] / "clients" / "python"


@pytest.fixture(scope="module")
def document(api_url: str) -> dict[str, Any]:
    served: dict[str, Any] = httpx.get(f"{api_url}/schema/openapi.json").json()
    return served


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chronicle_client_generate", SDK / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def operation_ids(document: dict[str, Any]) -> set[str]:
    return {op["operationId"] for item in document["paths"].values() for op in item.values()}


def test_every_operation_has_a_sync_and_an_async_method(document: dict[str, Any]) -> None:
    snake = generator().snake
    ids = operation_ids(document)
    assert len(ids) >= 80
    for operation_id in ids:
        sync, asynchronous = (getattr(c, snake(operation_id), None) for c in (Client, AsyncClient))
        assert callable(sync) and callable(asynchronous), operation_id
        assert not inspect.iscoroutinefunction(sync) and (
            inspect.iscoroutinefunction(asynchronous) or inspect.isasyncgenfunction(asynchronous)
        ), operation_id
    assert ids - OPERATION_IDS == {"followLive"}  # written by hand: Client.live


def test_the_generated_modules_are_what_the_served_document_makes(
    document: dict[str, Any],
) -> None:
    for path, text in generator().generated(document).items():
        assert path.read_text() == text, f"{path.name} is stale: run clients/python/generate.py"
