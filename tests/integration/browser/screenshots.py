"""`make screenshots`: a Chronicle on embedded servers with a little activity (a support
conversation with an agent run, tasks with a dead letter, an alert firing), and a
screenshot of each console page, written to ``docs/screenshots/``.

Run: ``python -m tests.integration.browser.screenshots [directory]``.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, Page, ViewportSize, async_playwright

from api.bootstrap import Container
from application.context import CommandContext
from domain.identity import SCOPES
from infrastructure.embedded import EmbeddedServers
from infrastructure.relay import RelayThread
from infrastructure.settings import Settings
from infrastructure.subject_keys import new_master_key
from tests.integration.browser.conftest import chromium
from tests.integration.conftest import serving

VIEWPORT: ViewportSize = {"width": 1366, "height": 860}
QUESTION = "My order #4217 hasn't arrived. Can you check where it is?"
ANSWER = "It is in transit and should arrive on Thursday."
THANKS = "Great, thanks! <script>alert('this shows as text')</script>"


def ok(response: httpx.Response) -> dict[str, Any]:
    if response.is_error:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text}")
    body: dict[str, Any] = response.json() if response.content else {}
    return body


async def activity(api: httpx.AsyncClient, container: Container) -> dict[str, str]:
    """Some of everything the pages show; the ids of what they open."""
    ids: dict[str, str] = {}
    for title in ("Billing question", "Onboarding call notes"):
        cid = ok(await api.post("/v1/conversations", json={"title": title}))["id"]
        about = {"role": "user", "content": f"About: {title.lower()}", "author": "grace"}
        ok(await api.post(f"/v1/conversations/{cid}/messages", json=about))
    chat = {"title": "Order #4217 delivery", "participants": ["ada", "support-agent"]}
    ids["conversation"] = cid = ok(await api.post("/v1/conversations", json=chat))["id"]
    question = {"role": "user", "author": "ada", "content": QUESTION, "tokens": 18}
    ok(await api.post(f"/v1/conversations/{cid}/messages", json=question))
    run = {"conversation_id": cid, "agent": "support-agent", "model": "claude-sonnet"}
    ids["run"] = rid = ok(await api.post("/v1/runs", json=run))["id"]
    steps: list[tuple[str, dict[str, Any]]] = [
        ("thinking", {"text": "The customer asks about an order: look it up first."}),
        ("tools", {"call_id": "call-1", "tool": "orders.lookup", "arguments": {"order": 4217}}),
        ("tools/call-1/result", {"duration_ms": 240, "result": {"status": "in transit"}}),
        ("thinking", {"text": "In transit, ETA Thursday. Answer briefly."}),
    ]
    for path, body in steps:
        ok(await api.post(f"/v1/runs/{rid}/{path}", json=body))
        await asyncio.sleep(0.3)
    usage = {"input_tokens": 1840, "output_tokens": 212, "cost_usd": 0.0087}
    ok(await api.post(f"/v1/runs/{rid}/complete", json={"content": ANSWER, "usage": usage}))
    thanks = {"role": "user", "author": "ada", "content": THANKS}
    ok(await api.post(f"/v1/conversations/{cid}/messages", json=thanks))
    for kind in ("email.send", "email.send", "report.build", "index.refresh"):
        ok(await api.post("/v1/tasks", json={"type": kind, "payload": {"n": 1}}))
    doomed = {"type": "webhook.call", "payload": {}, "max_attempts": 1}  # dead after one
    ok(await api.post("/v1/tasks", json=doomed))
    claim = {"worker_id": "worker-1", "types": ["webhook.call", "report.build"], "wait_s": 5}
    for _ in range(2):
        claimed = ok(await api.post("/v1/tasks/claim", json=claim))["task"]
        if claimed["type"] == "webhook.call":
            fail = {"error": "502 from the receiver", "retryable": True}
            ok(await api.post(f"/v1/tasks/{claimed['id']}/fail", json=fail))
        else:
            ok(await api.post(f"/v1/tasks/{claimed['id']}/complete", json={"result": "ok"}))
    rule = {"name": "agent runs failing", "metric": "runs_failed", "op": ">=", "threshold": 1}
    rule |= {"window_s": 300, "for_s": 60, "severity": "critical"}
    ok(await api.post("/v1/alert-rules", json=rule))
    failing = ok(await api.post("/v1/runs", json=run | {"agent": "triage-agent"}))["id"]
    failed = ok(await api.post(f"/v1/runs/{failing}/fail", json={"error": "tool timed out"}))
    ok(await api.get("/v1/metrics", params={"min_position": failed["position"]}))
    evaluator, now = container.evaluator(), datetime.now(UTC)
    await asyncio.to_thread(container.portal.call, evaluator.evaluate, now)
    later = now + timedelta(seconds=60)
    await asyncio.to_thread(container.portal.call, evaluator.evaluate, later)
    await asyncio.sleep(1.0)  # the read models catch up
    return ids


async def shoot(page: Page, url: str, path: Path) -> None:
    await page.goto(url)
    await page.wait_for_load_state("networkidle")
    await page.screenshot(path=path)
    print(f"wrote {path}")


async def co_editing(
    browser: Browser, page: Page, api: httpx.AsyncClient, url: str, key: str, out: Path
) -> None:
    """The co-editor, with a second editor (another page) typing beside this one."""
    body = {"title": "Release notes", "content": "Release 1.4\n\n- faster claims\n"}
    document = ok(await api.post("/v1/documents", json=body))["id"]
    context = await browser.new_context(viewport=VIEWPORT)
    other = await context.new_page()
    await other.goto(f"{url}/console/login")
    await other.get_by_label("API key").fill(key)
    await other.get_by_role("button", name="Sign in").click()
    await other.wait_for_url(f"{url}/console")
    for editor in (page, other):
        await editor.goto(f"{url}/console/documents/{document}")
        await editor.get_by_text("Editing live.").wait_for()
    await other.get_by_label("Text", exact=True).click()
    await other.keyboard.press("Control+End")
    await other.keyboard.type("- the web console\n")
    await page.get_by_label("Text", exact=True).click()
    await page.keyboard.press("Control+Home")
    await page.keyboard.press("End")
    await page.keyboard.type(" (draft)")
    await page.locator("[data-mirror] .caret").wait_for()
    await asyncio.sleep(0.3)
    await page.screenshot(path=out / "document.png")
    print(f"wrote {out / 'document.png'}")
    await context.close()


async def screenshots(url: str, key: str, container: Container, out: Path) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as api:
        ids = await activity(api, container)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=chromium(), args=["--no-sandbox", "--disable-gpu"]
            )
            for scheme in ("light", "dark"):
                context = await browser.new_context(viewport=VIEWPORT, color_scheme=scheme)
                page = await context.new_page()
                suffix = "" if scheme == "light" else "-dark"
                await shoot(page, f"{url}/console/login", out / f"login{suffix}.png")
                await page.get_by_label("API key").fill(key)
                await page.get_by_role("button", name="Sign in").click()
                await page.wait_for_url(f"{url}/console")
                if scheme == "dark":
                    await shoot(page, f"{url}/console", out / "overview-dark.png")
                    await context.close()
                    continue
                pages = {
                    "overview": "/console",
                    "conversations": "/console/conversations",
                    "conversation": f"/console/conversations/{ids['conversation']}",
                    "run": f"/console/runs/{ids['run']}",
                    "tasks": "/console/tasks",
                    "alerts": "/console/alerts",
                    "audit": "/console/audit",
                    "projections": "/console/projections",
                }
                for name, path in pages.items():
                    await shoot(page, f"{url}{path}", out / f"{name}.png")
                await co_editing(browser, page, api, url, key, out)
                await page.goto(f"{url}/console/live")
                await page.get_by_text("Following live.").wait_for()
                cid = ids["conversation"]
                for text in ("Anything else I can help with?", "No, that's all!"):
                    body = {"role": "assistant", "content": text, "author": "support-agent"}
                    ok(await api.post(f"/v1/conversations/{cid}/messages", json=body))
                await page.locator("#events tr").nth(1).wait_for()
                await page.screenshot(path=out / "live.png")
                print(f"wrote {out / 'live.png'}")
                await context.close()
            await browser.close()


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="chronicle-screens-") as directory:
        data_dir = Path(directory)
        with EmbeddedServers(data_dir).running() as embedded:
            settings = Settings(data_dir=data_dir, master_key=new_master_key()).with_urls(
                embedded.postgres().url, embedded.nats().url, embedded.valkey().url
            )
            container = Container.build(settings)
            engine, relay = container.projection_engine(), RelayThread(container.relay())
            engine.start()
            relay.start()
            try:
                context = CommandContext(tenant_id="acme", actor="screenshots", command="keys")
                key = container.portal.call(
                    container.identity.issue_key, context, "acme", "console", list(SCOPES)
                ).token
                with serving(settings) as url:
                    asyncio.run(screenshots(url, key, container, out))
            finally:
                relay.stop()
                engine.stop()
                container.close()


if __name__ == "__main__":
    main()
