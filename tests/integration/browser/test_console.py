"""The web console in a real browser: sign-in, live conversations, escaping, scopes, the
live tail, the audit search, and the operations pages' forms."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Dialog, Page, expect

from api.bootstrap import Container
from domain.identity import SCOPES
from domain.tenancy import SYSTEM_TENANT
from tests.integration.browser.conftest import sign_in
from tests.integration.conftest import KeyFactory

SCRIPT = "<script>alert(1)</script>"


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def start(api: httpx.AsyncClient, title: str = "Support chat") -> dict[str, Any]:
    created = ok(await api.post("/v1/conversations", json={"title": title}), 201)
    ok(
        await api.get(
            f"/v1/conversations/{created['id']}", params={"min_position": created["position"]}
        )
    )
    return created


async def post(api: httpx.AsyncClient, conversation_id: str, content: str) -> dict[str, Any]:
    body = {"role": "user", "content": content, "author": "ada"}
    return ok(await api.post(f"/v1/conversations/{conversation_id}/messages", json=body), 201)


def refuse_dialogs(page: Page) -> list[str]:
    """Every JavaScript dialog the page opens (an executed injected script would)."""
    opened: list[str] = []

    async def seen(dialog: Dialog) -> None:
        opened.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", seen)
    return opened


async def test_signing_in_shows_the_overview(console: Page, api_url: str) -> None:
    await console.goto(f"{api_url}/console")
    await expect(console.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    nav = console.get_by_role("navigation", name="Console")
    for label in ("Overview", "Conversations", "Live", "Tasks", "Alerts", "Audit"):
        await expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()
    await expect(console.get_by_role("heading", name="Projections")).to_be_visible()
    await expect(console.get_by_role("cell", name="messages", exact=True).first).to_be_visible()


async def test_the_overview_follows_the_tenants_activity(
    console: Page, api: httpx.AsyncClient, api_url: str
) -> None:
    conversation = await start(api)
    posted = await post(api, conversation["id"], "counted")
    ok(await api.get("/v1/metrics", params={"min_position": posted["position"]}))
    await console.goto(f"{api_url}/console")
    messages = console.locator(".tile", has_text="Messages").locator(".value")
    before = int((await messages.inner_text()).replace(",", ""))
    await expect(console.get_by_text("Following live.")).to_be_visible()
    for _ in range(3):
        await post(api, conversation["id"], "counted too")
    await expect(messages).to_have_text(f"{before + 3:,}", timeout=5000)


async def test_a_message_posted_over_the_api_appears_within_a_second(
    console: Page, api: httpx.AsyncClient, api_url: str
) -> None:
    conversation = await start(api)
    await post(api, conversation["id"], "first, before the page opened")
    await console.goto(f"{api_url}/console/conversations/{conversation['id']}")
    await expect(console.get_by_text("first, before the page opened")).to_be_visible()
    await expect(console.get_by_text("Following live.")).to_be_visible()
    posted_at = time.monotonic()
    await post(api, conversation["id"], "second, while it is open")
    await expect(console.get_by_text("second, while it is open")).to_be_visible(timeout=1000)
    assert time.monotonic() - posted_at < 1.0
    assert await console.locator("#messages > li").count() == 2


async def test_a_script_in_a_message_shows_as_text(
    console: Page, api: httpx.AsyncClient, api_url: str
) -> None:
    opened = refuse_dialogs(console)
    conversation = await start(api, SCRIPT)
    await post(api, conversation["id"], SCRIPT)
    await console.goto(f"{api_url}/console/conversations/{conversation['id']}")
    await expect(console.get_by_role("heading", name=SCRIPT, level=1)).to_be_visible()
    await expect(console.locator("#messages .content")).to_have_text([SCRIPT])
    await expect(console.get_by_text("Following live.")).to_be_visible()
    await post(api, conversation["id"], f"{SCRIPT}<img src=x onerror=alert(2)>")  # arriving live
    await expect(console.locator("#messages .content")).to_have_count(2)
    await expect(console.locator("#messages .content").nth(1)).to_have_text(
        f"{SCRIPT}<img src=x onerror=alert(2)>"
    )
    assert await console.locator("#messages script, #messages img").count() == 0
    assert opened == []


async def test_a_key_without_audit_read_does_not_see_the_audit_page(
    browser: Browser, api_url: str, issue_key: KeyFactory
) -> None:
    key = issue_key(scopes=tuple(s for s in SCOPES if s != "audit:read"))
    context = await browser.new_context()
    try:
        page = await sign_in(context, api_url, key)
        nav = page.get_by_role("navigation", name="Console")
        await expect(nav.get_by_role("link", name="Conversations")).to_be_visible()
        await expect(nav.get_by_role("link", name="Audit")).to_have_count(0)
        answer = await page.goto(f"{api_url}/console/audit")
        assert answer is not None and answer.status == 403
        await expect(page.get_by_role("alert")).to_contain_text("audit:read")
    finally:
        await context.close()


async def test_the_live_tail_follows_events_of_the_subjects_asked_for(
    console: Page, api: httpx.AsyncClient, api_url: str
) -> None:
    followed, other = await start(api, "followed"), await start(api, "other")
    await console.goto(f"{api_url}/console/live?subjects=conversation.{followed['id']}&type=")
    await expect(console.get_by_text("Following live.")).to_be_visible()
    await post(api, other["id"], "not this one")
    posted = await post(api, followed["id"], "tail me")
    row = console.locator(f"#events tr[data-position='{posted['position']}']")
    await expect(row).to_contain_text("MessagePosted")
    await expect(row).to_contain_text("tail me")
    await expect(console.locator("#events")).not_to_contain_text("not this one")


async def test_the_audit_trail_is_searched_by_action(
    console: Page, api: httpx.AsyncClient, api_url: str
) -> None:
    await start(api, "audited")
    await console.goto(f"{api_url}/console/audit")
    await console.get_by_label("Action").fill("conversation.start")
    await console.get_by_role("button", name="Search").click()
    await expect(console).to_have_url(
        f"{api_url}/console/audit?actor=&action=conversation.start&target=&since=&until="
    )
    cells = console.locator("tbody tr td:nth-child(3)")
    await expect(cells.first).to_have_text("conversation.start")
    assert set(await cells.all_inner_texts()) == {"conversation.start"}


async def test_a_pending_task_is_cancelled_from_the_page(
    console: Page, api: httpx.AsyncClient, api_url: str
) -> None:
    kind = f"console-{uuid.uuid4().hex[:8]}"
    task = ok(await api.post("/v1/tasks", json={"type": kind, "payload": {}}), 201)
    ok(await api.get(f"/v1/tasks/{task['id']}", params={"min_position": task["position"]}))
    await console.goto(f"{api_url}/console/tasks?state=pending")
    row = console.locator(f"#task-{task['id']}")
    await expect(row).to_contain_text("pending")
    await row.get_by_role("button", name="Cancel").click()
    await expect(console).to_have_url(f"{api_url}/console/tasks")
    for _ in range(100):  # the read model catches up
        if ok(await api.get(f"/v1/tasks/{task['id']}"))["state"] == "cancelled":
            break
        await asyncio.sleep(0.02)
    await console.goto(f"{api_url}/console/tasks")
    await expect(console.locator(f"#task-{task['id']}")).to_contain_text("cancelled")


async def test_a_firing_alert_is_acknowledged_from_the_page(
    console: Page, api: httpx.AsyncClient, api_url: str, container: Container
) -> None:
    rule: dict[str, Any] = {"name": f"failing {uuid.uuid4().hex[:6]}", "metric": "runs_failed"}
    rule |= {"op": ">="}
    rule |= {"threshold": 1, "window_s": 300, "for_s": 60, "severity": "warning"}
    ok(await api.post("/v1/alert-rules", json=rule), 201)
    conversation = await start(api)
    run = {"conversation_id": conversation["id"], "agent": "planner", "model": "m-1"}
    run_id = ok(await api.post("/v1/runs", json=run), 201)["id"]
    failed = ok(await api.post(f"/v1/runs/{run_id}/fail", json={"error": "boom"}))
    ok(await api.get("/v1/metrics", params={"min_position": failed["position"]}))
    evaluator, now = container.evaluator(), datetime.now(UTC)
    container.portal.call(evaluator.evaluate, now)
    container.portal.call(evaluator.evaluate, now + timedelta(seconds=60))
    alert = await firing_alert(api, rule["name"])
    await console.goto(f"{api_url}/console/alerts")
    row = console.locator(f"#alert-{alert['alert_id']}")
    await expect(row).to_contain_text("firing")
    await row.get_by_label(f"Note for {rule['name']}").fill("on it")
    await row.get_by_role("button", name="Acknowledge").click()
    await expect(console).to_have_url(f"{api_url}/console/alerts")
    for _ in range(100):
        if await alert_state(api, alert["alert_id"]) == "acknowledged":
            break
        await asyncio.sleep(0.02)
    await console.goto(f"{api_url}/console/alerts")
    await expect(console.locator(f"#alert-{alert['alert_id']}")).to_contain_text("on it")


async def firing_alert(api: httpx.AsyncClient, rule: str) -> dict[str, Any]:
    for _ in range(250):
        items = ok(await api.get("/v1/alerts", params={"state": "firing"}))["items"]
        if found := [a for a in items if a["rule"] == rule]:
            first: dict[str, Any] = found[0]
            return first
        await asyncio.sleep(0.02)
    raise AssertionError("the alert did not fire")


async def alert_state(api: httpx.AsyncClient, alert_id: str) -> str | None:
    items = ok(await api.get("/v1/alerts"))["items"]
    return next((a["state"] for a in items if a["alert_id"] == alert_id), None)


@pytest.mark.parametrize("path", ["/console/conversations", "/console/tasks", "/console/alerts"])
async def test_each_page_renders_for_a_signed_in_key(
    console: Page, api_url: str, path: str
) -> None:
    answer = await console.goto(f"{api_url}{path}")
    assert answer is not None and answer.status == 200
    await expect(console.locator("main h1")).to_be_visible()


async def test_a_run_shows_its_timeline_follows_it_live_and_replays(
    console: Page, api: httpx.AsyncClient, api_url: str
) -> None:
    conversation = await start(api)
    body = {"conversation_id": conversation["id"], "agent": "planner", "model": "m-1"}
    run_id = ok(await api.post("/v1/runs", json=body), 201)["id"]
    runs = f"/v1/runs/{run_id}"
    await api.post(f"{runs}/thinking", json={"text": "look the order up"})
    call = {"call_id": "c1", "tool": "orders.lookup", "arguments": {"order": 42}}
    ok(await api.post(f"{runs}/tools", json=call))
    ok(await api.post(f"{runs}/tools/c1/result", json={"duration_ms": 120, "result": "shipped"}))
    shown = ok(await api.post(f"{runs}/thinking", json={"text": "answer"}))
    ok(await api.get(runs, params={"min_position": shown["position"]}))
    await console.goto(f"{api_url}/console/runs/{run_id}")
    steps = console.locator("[data-steps] > li")
    await expect(steps).to_have_count(5)
    await expect(steps.nth(2)).to_contain_text('orders.lookup({"order":42})')
    await expect(console.get_by_role("cell", name="orders.lookup")).to_be_visible()
    await expect(console.get_by_text("Following live.")).to_be_visible()
    usage = {"input_tokens": 1200, "output_tokens": 345, "cost_usd": 0.0123}
    completed = {"content": "It has shipped.", "usage": usage}
    ok(await api.post(f"{runs}/complete", json=completed))
    await expect(steps).to_have_count(6)  # arrived live
    await expect(console.get_by_label("Totals")).to_contain_text("1,200")
    await expect(console.get_by_label("Totals")).to_contain_text("completed")

    await console.get_by_role("button", name="Next step").click()
    await expect(steps.locator("visible=true")).to_have_count(1)
    await expect(console.get_by_text("Step 1 of 6")).to_be_visible()
    await console.get_by_role("button", name="Replay").click()
    await expect(console.get_by_text("Step 2 of 6")).to_be_visible()
    await expect(console.get_by_text("Replay done.")).to_be_visible()
    await expect(steps.locator("visible=true")).to_have_count(6)


async def test_an_operator_retries_and_rebuilds_a_projection_from_the_page(
    browser: Browser, api_url: str, issue_key: KeyFactory
) -> None:
    context = await browser.new_context()
    try:
        page = await sign_in(context, api_url, issue_key(SYSTEM_TENANT))
        await (
            page.get_by_role("navigation", name="Console")
            .get_by_role("link", name="Projections")
            .click()
        )
        row = page.locator("#projection-alerts")
        await expect(row).to_contain_text("alerts")
        await row.get_by_role("button", name="Retry the parked events of alerts").click()
        await expect(page.get_by_role("status")).to_have_text("Nothing is parked for alerts.")
        await page.locator("#projection-alerts").get_by_role("button", name="Rebuild").click()
        await expect(page.get_by_role("status")).to_have_text("Rebuilding alerts.")
        for _ in range(250):
            await page.goto(f"{api_url}/console/audit?action=projections.rebuild")
            if await page.locator("tbody td", has_text="projections.rebuild").count():
                break
            await asyncio.sleep(0.1)
        await expect(page.locator("tbody tr").first).to_contain_text("projections.rebuild")
        await page.goto(f"{api_url}/console/projections")
        await expect(page.locator("#projection-alerts")).not_to_contain_text("rebuilding")
    finally:
        await context.close()


async def test_a_tenants_admin_sees_projections_but_may_not_repair_them(
    browser: Browser, api_url: str, issue_key: KeyFactory
) -> None:
    context = await browser.new_context()
    try:
        page = await sign_in(context, api_url, issue_key())
        await page.goto(f"{api_url}/console/projections")
        await expect(page.locator("#projection-messages")).to_be_visible()
        await expect(page.get_by_role("button", name="Rebuild")).to_have_count(0)
        answer = await page.request.post(
            f"{api_url}/console/projections/messages/rebuild",
            form={"csrf_token": await page.locator("[name=csrf_token]").first.input_value()},
        )
        assert answer.status == 403 and "_system" in await answer.text()
    finally:
        await context.close()


async def test_a_dead_lettered_task_is_retried_from_the_page(
    console: Page, api: httpx.AsyncClient, api_url: str
) -> None:
    kind = f"dead-{uuid.uuid4().hex[:8]}"
    task = ok(await api.post("/v1/tasks", json={"type": kind, "max_attempts": 1}), 201)
    claim = {"worker_id": "w1", "types": [kind], "wait_s": 5}
    assert ok(await api.post("/v1/tasks/claim", json=claim))["task"]["id"] == task["id"]
    failed = ok(await api.post(f"/v1/tasks/{task['id']}/fail", json={"error": "receiver 502"}))
    ok(await api.get(f"/v1/tasks/{task['id']}", params={"min_position": failed["position"]}))
    await console.goto(f"{api_url}/console/tasks")
    row = console.locator(f"#dead-{task['id']}")
    await expect(row).to_contain_text("receiver 502")
    await row.get_by_role("button", name="Retry").click()
    await expect(console).to_have_url(f"{api_url}/console/tasks")
    again = ok(await api.post("/v1/tasks/claim", json=claim | {"worker_id": "w2"}))
    assert (again["task"]["id"], again["attempt"]) == (task["id"], 2)
    ok(await api.get(f"/v1/tasks/{task['id']}", params={"min_position": again["position"]}))
    await console.goto(f"{api_url}/console/tasks")
    await expect(console.locator(f"#dead-{task['id']}")).to_have_count(0)
    await expect(console.locator(f"#task-{task['id']}")).to_contain_text("running")


async def test_two_pages_co_editing_a_document_converge_and_show_each_others_cursor(
    console: Page, browser: Browser, api: httpx.AsyncClient, api_url: str, console_key: str
) -> None:
    created = ok(await api.post("/v1/documents", json={"title": "Plan", "content": "plan:"}), 201)
    url = f"{api_url}/console/documents/{created['id']}"
    context = await browser.new_context()
    try:
        other = await sign_in(context, api_url, console_key)
        pages = (console, other)
        for page in pages:
            await page.goto(url)
            await expect(page.get_by_text("Editing live.")).to_be_visible()
        first, second = (page.get_by_label("Text", exact=True) for page in pages)
        await first.click()
        await console.keyboard.press("End")
        await console.keyboard.type(" one")
        await expect(second).to_have_value("plan: one")
        await second.click()
        await other.keyboard.press("Home")
        await other.keyboard.type("# ")
        await expect(first).to_have_value("# plan: one")
        # Both type at once: each sees the other's letters, and both end the same.
        await console.keyboard.type(" two")  # at the end, where its caret was
        await other.keyboard.type("Big ")  # after "# "
        await expect(first).to_have_value("# Big plan: one two")
        await expect(second).to_have_value("# Big plan: one two")
        # Typing over each other, keystroke against keystroke: still one text.
        await asyncio.gather(console.keyboard.type("abcdefgh"), other.keyboard.type("12345678"))
        await expect(first).to_have_value("# Big 12345678plan: one twoabcdefgh")
        await expect(second).to_have_value("# Big 12345678plan: one twoabcdefgh")
        for page in pages:  # each shows the other's caret, and only that
            await expect(page.locator("[data-mirror] .caret")).to_have_count(1)
        await expect(console.locator("[data-editors] li")).to_have_count(1)
        document = ok(await api.get(f"/v1/documents/{created['id']}"))
        assert document["content"] == "# Big 12345678plan: one twoabcdefgh"
    finally:
        await context.close()
    await expect(console.locator("[data-mirror] .caret")).to_have_count(0)  # the other left
