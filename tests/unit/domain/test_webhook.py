"""Webhooks as aggregates, without any I/O: what URL and patterns they accept, what they
match, and their life: disabled, enabled, deleted."""

from __future__ import annotations

import pytest

from domain.errors import InvalidValue
from domain.webhook import (
    Webhook,
    WebhookAlreadyDisabled,
    WebhookAlreadyEnabled,
    is_private_host,
    subscribes_to,
)


def test_a_webhook_keeps_its_url_and_sorted_patterns() -> None:
    hook = Webhook.register("acme", "https://hooks.example.com/in", ["Task*", "AgentRunCompleted"])
    assert hook.url == "https://hooks.example.com/in"
    assert hook.events == ["AgentRunCompleted", "Task*"]
    assert not hook.disabled


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "https://user:pw@example.com/",
        "https://user@example.com/",
        "https:///no-host",
        "example.com/x",
        "https://example.com:99999/",
        "https://exa mple.com/",
        "https://example.com/\x00",
        "https://example.com/" + "x" * 2000,
    ],
)
def test_only_an_http_url_without_credentials_is_accepted(url: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        Webhook.register("acme", url, ["*"], allow_private=True)
    assert refused.value.field == "url"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost:8080/",
        "http://api.localhost/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest",
        "http://[::1]/",
        "http://0.0.0.0/",
    ],
)
def test_a_private_address_is_refused_unless_allowed(url: str) -> None:
    with pytest.raises(InvalidValue):
        Webhook.register("acme", url, ["*"])
    assert Webhook.register("acme", url, ["*"], allow_private=True).url == url


def test_a_public_address_or_name_is_not_private() -> None:
    assert not is_private_host("8.8.8.8") and not is_private_host("hooks.example.com")


@pytest.mark.parametrize("events", [[], ["a b"], ["x" * 101], ["ok"] * 51, ["Task;"]])
def test_patterns_are_bounded_event_types(events: list[str]) -> None:
    with pytest.raises(InvalidValue) as refused:
        Webhook.register("acme", "https://example.com/", events)
    assert refused.value.field == "events"


@pytest.mark.parametrize(
    ("patterns", "names", "matched"),
    [
        (["*"], ("AnyThing",), True),
        (["Task*"], ("TaskDeadLettered",), True),
        (["Task*"], ("AgentRunCompleted", "agent_completed"), False),
        (["agent_completed"], ("AgentRunCompleted", "agent_completed"), True),
        (["taskfailed"], ("TaskFailed",), False),  # case matters
    ],
)
def test_a_pattern_matches_an_events_type_or_wire_type(
    patterns: list[str], names: tuple[str, ...], matched: bool
) -> None:
    assert subscribes_to(patterns, names) is matched


def test_a_disabled_webhook_cannot_be_disabled_or_retried_again() -> None:
    hook = Webhook.register("acme", "https://example.com/", ["*"])
    hook.disable("no longer used")
    assert hook.disabled and hook.disabled_reason == "no longer used"
    with pytest.raises(WebhookAlreadyDisabled):
        hook.disable("again")
    with pytest.raises(WebhookAlreadyDisabled):
        hook.retry_delivery("d")


def test_an_enabled_webhook_delivers_again_and_cannot_be_enabled_twice() -> None:
    hook = Webhook.register("acme", "https://example.com/", ["*"])
    with pytest.raises(WebhookAlreadyEnabled):
        hook.enable()
    hook.disable("paused")
    hook.enable()
    assert not hook.disabled and hook.disabled_reason is None
    hook.retry_delivery("d")
    assert [type(e).__name__ for e in hook.collect_events()][-3:] == [
        "WebhookDisabled",
        "WebhookEnabled",
        "WebhookDeliveryRetried",
    ]


def test_a_deleted_webhook_is_marked_and_disabled() -> None:
    hook = Webhook.register("acme", "https://example.com/", ["*"])
    hook.delete()
    assert hook.deleted and hook.disabled
