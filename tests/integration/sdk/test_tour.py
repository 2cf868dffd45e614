"""A tour of the API through the SDK: the generated Structs decode what the real server
answers, operation after operation (a schema that lied would fail here)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from chronicle_client import Client, Conflict, NotFound, models
from tests.integration.conftest import KeyFactory


@pytest.fixture
def client(api_url: str, issue_key: KeyFactory) -> Iterator[Client]:
    with Client(api_url, api_key=issue_key(), read_your_writes=True) as made:
        yield made


def test_health_and_metrics(client: Client) -> None:
    assert isinstance(client.get_liveness(), models.Liveness)
    assert isinstance(client.get_readiness(), models.Readiness)
    assert "chronicle_" in client.get_metrics()


def test_conversations_messages_and_participants(client: Client) -> None:
    conversation = client.start_conversation(title="Tour")
    client.add_participant(conversation.id, user_id="ada")
    posted = client.post_message(conversation.id, role="user", content="hello tour")
    assert client.get_message(conversation.id, posted.message_id).content == "hello tour"
    [found] = client.iter_search_messages(q="tour")
    assert found.message_id == posted.message_id
    assert client.get_conversation(conversation.id).value.participants == ["ada"]
    client.remove_participant(conversation.id, "ada")
    assert client.get_presence(conversation.id).conversation_id == str(conversation.id)
    client.send_typing(conversation.id, user_id="ada")
    events = client.list_stream_events(conversation.id).items
    assert events[0].type == "ConversationStarted"
    assert client.get_stream_state(conversation.id, version=1).version == 1
    client.rename_conversation(conversation.id, title="Toured")
    client.archive_conversation(conversation.id)
    assert client.get_conversation(conversation.id).value.archived


def test_agent_runs(client: Client) -> None:
    conversation = client.start_conversation(title="Runs")
    run = client.start_run(conversation_id=conversation.id, agent="helper", model="m-1")
    client.record_thought(run.id, text="thinking")
    client.start_tool_call(run.id, call_id="c1", tool="search", arguments={"q": "x"})
    client.complete_tool_call(run.id, "c1", duration_ms=5, result={"hits": 1})
    client.stream_delta(run.id, text="Hi")
    answer = client.complete_run(run.id, content="Hi there")
    assert client.get_run(run.id).value["state"] == "completed"
    assert client.get_message(conversation.id, answer.message_id).content == "Hi there"
    failed = client.start_run(conversation_id=conversation.id, agent="helper", model="m-1")
    client.fail_run(failed.id, error="boom")
    cancelled = client.start_run(conversation_id=conversation.id, agent="helper", model="m-1")
    client.cancel_run(cancelled.id, reason="enough")
    states = sorted(r["state"] for r in client.iter_list_conversation_runs(conversation.id))
    assert states == ["cancelled", "completed", "failed"]


def test_documents(client: Client) -> None:
    document = client.create_document(title="Notes", content="abc")
    read = client.get_document(document.id)
    applied = client.submit_operation(document.id, base_revision=read.value.revision, op=[3, "d"])
    assert client.get_document(document.id).value.content == "abcd"
    assert [o.revision for o in client.list_operations(document.id).items] == [applied.revision]
    client.rename_document(
        document.id, title="Renamed", if_match=client.get_document(document.id).version
    )
    assert [d.title for d in client.iter_list_documents()] == ["Renamed"]
    client.archive_document(document.id)


def test_tasks_dashboards_and_usage(client: Client) -> None:
    task = client.submit_task(type="tour.task", payload=[1, 2])
    assert [t["id"] for t in client.iter_list_tasks(type="tour.task")] == [str(task.id)]
    client.cancel_task(task.id, reason="tour over")
    assert client.get_task(task.id).value["state"] == "cancelled"
    assert isinstance(client.get_task_dashboard(), dict)
    assert isinstance(client.get_dashboard(), models.Dashboard)
    assert isinstance(client.get_usage(), dict)
    assert isinstance(client.get_current_metrics(), models.CurrentMetrics)
    assert isinstance(client.get_metric_history(name="messages"), models.Series)
    assert isinstance(client.live_stats(), models.LiveStatsOut)
    assert list(client.iter_list_audit()) and client.list_keys().items


def test_alert_rules(client: Client) -> None:
    rule = client.create_alert_rule(
        name="quiet", metric="messages", op=">", threshold=1e9, window_s=60
    )
    read = client.get_alert_rule(rule.id)
    client.update_alert_rule(
        rule.id,
        name="quieter",
        metric="messages",
        op=">",
        threshold=1e9,
        window_s=60,
        if_match=read.version,
    )
    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    client.mute_alert_rule(rule.id, until=until)
    assert [r.name for r in client.iter_list_alert_rules()] == ["quieter"]
    assert list(client.iter_list_alerts()) == []
    client.delete_alert_rule(rule.id)


def test_notifications_tokens_and_subjects(client: Client) -> None:
    sent = client.send_notification("ada", kind="reminder", title="Stand-up")
    assert client.get_notification("ada", sent.id).title == "Stand-up"
    client.mark_notification_read("ada", sent.id)
    assert client.list_notifications("ada").unread == 0
    client.announce(title="Maintenance tonight")
    assert client.list_my_notifications().items == []  # a key has no user of its own
    minted = client.mint_user_token(user_id="ada", scopes=["live:read"])
    assert minted.user_id == "ada"
    client.revoke_user_tokens("ada")
    assert isinstance(client.rotate_user_token_key(), models.KeyRotated)
    assert isinstance(client.export_subject("user:ada"), models.SubjectExportOut)
    assert client.erase_subject("user:ada", reason="asked").subject == "user:ada"
    [own] = client.list_keys().items
    with pytest.raises(Conflict):
        client.revoke_key(own.key_id, reason="not the key in use")


def test_webhooks(client: Client) -> None:
    hook = client.register_webhook(url="https://example.com/hook", events=["AlertFired"])
    assert client.get_webhook(hook.id).url == "https://example.com/hook"
    client.disable_webhook(hook.id)
    client.enable_webhook(hook.id)
    # Listed as the dispatcher knows them: it is not running here, so nothing to wait for.
    assert isinstance(client.list_webhooks(read_your_writes=False), models.WebhookPage)
    assert list(client.iter_list_webhook_deliveries(hook.id, read_your_writes=False)) == []
    with pytest.raises(NotFound):
        client.retry_webhook_delivery(hook.id, uuid.uuid4())
    client.delete_webhook(hook.id)
