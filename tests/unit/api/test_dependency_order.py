"""Dependencies resolved one after another give what Litestar's task group gave: every
value, sub-dependencies first, cleanups run, and a dependency's error answered as such."""

from __future__ import annotations

from collections.abc import AsyncIterator

from litestar import Litestar, get
from litestar._kwargs.kwargs_model import KwargsModel
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.testing import TestClient

from api.http.dependency_order import resolve_dependencies_in_order, resolve_in_order

order: list[str] = []


async def provide_base() -> int:
    order.append("base")
    return 40


async def provide_derived(base: NamedDependency[int]) -> int:
    order.append("derived")
    return base + 2


async def provide_session() -> AsyncIterator[str]:
    order.append("session opened")
    yield "session"
    order.append("session closed")


async def provide_missing() -> str:
    raise NotFoundException("no such thing")


@get("/values", sync_to_thread=False)
def values(
    base: NamedDependency[int], derived: NamedDependency[int], session: NamedDependency[str]
) -> dict[str, object]:
    return {"base": base, "derived": derived, "session": session}


@get("/missing", sync_to_thread=False)
def missing(base: NamedDependency[int], thing: NamedDependency[str]) -> str:
    return thing


def app() -> Litestar:
    resolve_dependencies_in_order()
    return Litestar(
        [values, missing],
        dependencies={
            "base": Provide(provide_base),
            "derived": Provide(provide_derived),
            "session": Provide(provide_session),
            "thing": Provide(provide_missing),
        },
    )


def test_every_dependency_is_resolved_after_its_own_and_cleaned_up() -> None:
    order.clear()
    with TestClient(app()) as client:
        response = client.get("/values")

    assert response.json() == {"base": 40, "derived": 42, "session": "session"}
    assert order.index("base") < order.index("derived")
    assert order[-1] == "session closed"
    assert KwargsModel.resolve_dependencies is resolve_in_order


def test_an_error_of_a_dependency_is_answered_as_that_error() -> None:
    with TestClient(app()) as client:
        response = client.get("/missing")

    assert response.status_code == 404
    assert response.json()["detail"] == "no such thing"
