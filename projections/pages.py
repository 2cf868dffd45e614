"""Keyset pages of read models, newest first: a query fetches one row more than the page
to learn whether another page follows, and the cursor is the last row's position."""

from __future__ import annotations

from typing import Any

NEWEST = 2**62  # a position beyond any the log will reach: a first page starts there


def before(after: int | None) -> int:
    """The position a page's rows come before: the cursor given, or the newest."""
    return after if after is not None else NEWEST


def page_of(
    rows: list[dict[str, Any]], limit: int, column: str
) -> tuple[list[dict[str, Any]], int | None]:
    """Of ``limit + 1`` rows fetched, the page and the cursor of the next (``column`` of
    the page's last row), if there is one."""
    page = rows[:limit]
    return page, page[-1][column] if len(rows) > limit else None
