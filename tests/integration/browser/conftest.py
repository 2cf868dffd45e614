"""Browser fixtures: Debian's Chromium driven by Playwright, one browser for the session,
against the integration fixtures' real API (`api_url`, `issue_key`): the tests live under
`tests/integration/` so that a worker running both shares one API and its followers.

Playwright's own browser download is not reachable, so the session installs Debian's
``chromium`` with apt when it is missing (as root; elsewhere it says what to run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.integration.conftest import KeyFactory

CHROMIUM = "/usr/bin/chromium"
APT = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


def chromium() -> str:
    """The path of Chromium, installed with apt first if it is missing."""
    found = shutil.which("chromium") or (CHROMIUM if os.path.exists(CHROMIUM) else None)
    if found:
        return found
    if os.geteuid() != 0:
        pytest.fail("Chromium is missing: run `sudo apt-get install -y chromium`")
    subprocess.run(["apt-get", "update", "-q"], check=True, env=APT, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "chromium"],
        check=True,
        env=APT,
        stdout=subprocess.DEVNULL,
    )
    return shutil.which("chromium") or CHROMIUM


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium for every browser test of the session (the async API, on the
    session's loop, so the other async tests of a worker run beside it)."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium(), args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        await launched.close()


async def sign_in(context: BrowserContext, api_url: str, key: str) -> Page:
    """A page of ``context`` signed in to the console with ``key``, on the overview."""
    page = await context.new_page()
    await page.goto(f"{api_url}/console")
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{api_url}/console")
    return page


@pytest.fixture(scope="module")
def console_key(issue_key: KeyFactory) -> str:
    """A key of a fresh tenant with every scope, for one module's pages."""
    return issue_key()


@pytest.fixture(scope="module")
async def console(browser: Browser, api_url: str, console_key: str) -> AsyncIterator[Page]:
    """A signed-in console page, reused by the module's tests (one sign-in)."""
    context = await browser.new_context(viewport={"width": 1366, "height": 860})
    context.set_default_timeout(10_000)
    page = await sign_in(context, api_url, console_key)
    yield page
    await context.close()


@pytest.fixture(scope="module")
async def api(api_url: str, console_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the API as the console's tenant."""
    headers = {"Authorization": f"Bearer {console_key}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=30) as http:
        yield http
