"""`chronicle up` delivers webhooks by default: a real receiver gets a signed event,
`chronicle health webhooks` says the dispatcher keeps up, and `chronicle webhooks` lists
the webhook and its delivery."""

from __future__ import annotations

import json
import time

from standardwebhooks.webhooks import Webhook as Verifier

from tests.e2e.conftest import Chronicle
from tests.webhook_receiver import receiving


def test_up_delivers_a_signed_event_to_a_webhook(chronicle: Chronicle) -> None:
    chronicle.extra_env = {"CHRONICLE_WEBHOOKS_ALLOW_PRIVATE": "1"}
    chronicle.start()
    with receiving() as receiver, chronicle.client() as http:
        created = http.post(
            "/v1/webhooks", json={"url": f"{receiver.url}/in", "events": ["ConversationStarted"]}
        )
        assert created.status_code == 201, created.text
        started = http.post("/v1/conversations", json={"title": "hello"})
        (got,) = receiver.wait_for("/in", 1)
        event = Verifier(created.json()["secret"]).verify(got.body, got.headers)
        assert event["subject"] == started.json()["id"]
    health = chronicle.cli("health", "webhooks")
    assert health.returncode == 0, health.stdout + health.stderr
    webhook = created.json()["id"]
    listed = chronicle.cli("webhooks", "list", "--tenant", "default", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [w["webhook_id"] for w in json.loads(listed.stdout)] == [webhook]
    assert "whsec_" not in listed.stdout
    deadline = time.monotonic() + 10
    while True:
        shown = chronicle.cli("webhooks", "deliveries", webhook, "--json")
        assert shown.returncode == 0, shown.stderr
        if [d["status"] for d in json.loads(shown.stdout)] == ["delivered"]:
            break
        assert time.monotonic() < deadline, shown.stdout
        time.sleep(0.2)
    table = chronicle.cli("webhooks", "deliveries", webhook)
    assert "ConversationStarted" in table.stdout and "delivered" in table.stdout
