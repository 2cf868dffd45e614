"""How the console renders: one Jinja environment with autoescaping always on (every value
a page shows is text, whatever it holds), its filters, and pages and fragments from it.

Nothing here reads data: controllers pass what a template shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template import TemplateConfig

from api.http.console.viewer import Viewer

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
SECURITY_HEADERS = {
    # No inline script or style runs: an injected tag would be inert even if it got through.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self';"
    " img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def when(moment: datetime | None) -> str:
    """A time as the console shows it: UTC, to the second."""
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def figure(value: float | None) -> str:
    """A metric's value: whole numbers grouped, fractions to four significant digits."""
    if value is None:
        return "\N{EN DASH}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.4g}"


def sparkline(values: Sequence[float | None], width: int = 160, height: int = 32) -> str:
    """The points of an SVG polyline drawing ``values`` left to right (gaps as 0)."""
    numbers = [v or 0.0 for v in values] or [0.0]
    top = max(numbers) or 1.0
    step = width / max(1, len(numbers) - 1)
    return " ".join(
        f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(numbers)
    )


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined
    )
    env.filters.update(when=when, figure=figure)
    env.globals.update(sparkline=sparkline)
    return env


ENVIRONMENT = environment()


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(ENVIRONMENT))


def page(
    viewer: Viewer | None, name: str, title: str, *, status_code: int = 200, **context: Any
) -> Template:
    """A whole page from ``name`` in the layout, for ``viewer`` (``None``: signed out)."""
    return Template(
        template_name=name,
        context={"viewer": viewer, "title": title, **context},
        status_code=status_code,
        headers=SECURITY_HEADERS,
    )


def fragment(name: str, **context: Any) -> str:
    """A part of a page, as HTML text (for a live stream to insert)."""
    return ENVIRONMENT.get_template(name).render(**context)
