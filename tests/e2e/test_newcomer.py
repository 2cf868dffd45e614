"""A newcomer's path on a real `chronicle up`: the demo fills it (as `make demo` runs it:
the URL and the key found in the data directory) with every kind of activity the console
shows (conversations, answered runs, tasks done and dead-lettered, a co-edited document,
an alert rule) and stops by itself; the Python SDK reads and follows it, and the console,
signed in with the dev key, shows what the demo did."""

from __future__ import annotations

import re
import time

import httpx

from chronicle_client import Client
from tests.e2e.conftest import Chronicle

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def test_the_demo_fills_a_running_chronicle_that_the_sdk_and_the_console_show(
    chronicle: Chronicle,
) -> None:
    chronicle.start()
    began = time.monotonic()
    demo = chronicle.cli("demo", "--minutes", "0.1", "--seed", "7")
    assert demo.returncode == 0, demo.stderr
    assert time.monotonic() - began < 40 and "3 conversations" in demo.stdout

    with Client(chronicle.url, api_key=chronicle.key, read_your_writes=True) as sdk:
        titles = {c.title for c in sdk.iter_list_conversations()}
        assert "Trip to Lisbon" in titles
        posted_in = next(c.id for c in sdk.iter_list_conversations() if c.title == "Trip to Lisbon")
        posted = sdk.post_message(
            posted_in,
            role="user",
            content="One more question about Lisbon.",
            author="ada",
        )
        events = sdk.live(["conversation.*"], cursor=posted.position - 1)
        first = next(iter(events))
        assert first.position == posted.position and first.type == "MessagePosted"

    with chronicle.client() as http:  # every kind of activity the console shows
        runs = http.get(f"/v1/conversations/{posted_in}/runs").json()["items"]
        assert runs and runs[0]["agent"] == "concierge"
        deadline = time.monotonic() + 20
        while (counts := http.get("/v1/dashboard/tasks").json()["counts"])["dead"] < 1:
            assert time.monotonic() < deadline, counts  # the webhook that is down, dead-lettered
            time.sleep(0.2)
        assert counts["succeeded"] >= 1
        (document,) = http.get("/v1/documents").json()["items"]
        assert (
            http.get(f"/v1/documents/{document['id']}").json()["content"].startswith("Launch plan")
        )
        assert [r["metric"] for r in http.get("/v1/alert-rules").json()["items"]] == ["runs_failed"]

    with httpx.Client(base_url=chronicle.url, timeout=30, follow_redirects=False) as browser:
        form = browser.get("/console/login")
        token = CSRF.search(form.text)
        assert token, form.text
        signed = browser.post(
            "/console/login", data={"api_key": chronicle.key, "csrf_token": token.group(1)}
        )
        assert signed.status_code == 303, signed.text
        page = browser.get("/console/conversations")
        assert page.status_code == 200
        assert "Trip to Lisbon" in page.text and "Order #4411 is late" in page.text
