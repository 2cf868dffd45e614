"""`chronicle up` delivers webhooks by default: a real receiver gets a signed event, and
`chronicle health webhooks` says the dispatcher keeps up."""

from __future__ import annotations

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
