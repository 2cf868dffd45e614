"""What a delivery sends and when it tries again, without a server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook as Verifier

from application.webhooks import made_secret
from infrastructure.settings import Settings, SettingsError
from infrastructure.webhook_delivery import DeliveryPolicy, pinned, signed_headers


def test_the_headers_verify_with_the_standard_webhooks_library() -> None:
    secret, body = made_secret(), b'{"id": "7", "type": "chronicle.task.TaskDeadLettered"}'
    headers = signed_headers(secret, "msg-1", body, datetime.now(UTC))
    assert headers["webhook-id"] == "msg-1"
    assert Verifier(secret).verify(body, headers)["id"] == "7"


def test_retries_back_off_exponentially_with_jitter_up_to_the_most() -> None:
    policy = DeliveryPolicy(first_delay_s=1.0, most_delay_s=60.0)
    for attempts, base in [(1, 1.0), (2, 2.0), (3, 4.0), (10, 60.0)]:
        delays = {policy.delay(attempts) for _ in range(50)}
        assert all(base / 2 <= d <= base for d in delays)
        assert len(delays) > 1


def test_private_addresses_are_allowed_only_when_the_operator_says_so() -> None:
    assert not Settings.from_env({}).webhooks_allow_private
    assert Settings.from_env({"CHRONICLE_WEBHOOKS_ALLOW_PRIVATE": "1"}).webhooks_allow_private
    with pytest.raises(SettingsError, match="CHRONICLE_WEBHOOKS_ALLOW_PRIVATE"):
        Settings.from_env({"CHRONICLE_WEBHOOKS_ALLOW_PRIVATE": "maybe"})


@pytest.mark.parametrize(
    ("url", "address", "sent_to", "host", "sni"),
    [
        ("https://hooks.example.com/in?x=1", "93.184.216.34", "https://93.184.216.34/in?x=1",
         "hooks.example.com", "hooks.example.com"),
        ("http://hooks.example.com:8080/in", "2606:2800::1", "http://[2606:2800::1]:8080/in",
         "hooks.example.com:8080", None),
    ],
)  # fmt: skip
def test_a_checked_address_is_the_one_connected_to_under_the_hosts_name(
    url: str, address: str, sent_to: str, host: str, sni: str | None
) -> None:
    target = pinned(url, address)
    assert target.url == sent_to
    assert target.headers == {"host": host}
    assert target.extensions.get("sni_hostname") == sni
