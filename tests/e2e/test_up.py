"""`chronicle up` as a new user meets it: start, use, stop, start again."""

from __future__ import annotations

import json
import signal
import socket
import time

import psutil
import pytest

from infrastructure.embedded import free_port
from infrastructure.settings import Settings
from tests.e2e.conftest import Chronicle, alive


def test_up_serves_conversations_and_prints_where_to_go(chronicle: Chronicle) -> None:
    chronicle.start()
    banner = chronicle.output.read_text()
    assert f"{chronicle.url}/v1" in banner and f"{chronicle.url}/schema" in banner
    assert chronicle.key in banner
    assert (chronicle.data_dir / "dev-api-key").stat().st_mode & 0o777 == 0o600
    with chronicle.client() as http:
        started = http.post("/v1/conversations", json={"title": "Hello"})
        assert started.status_code == 201
        cid = started.json()["id"]
        posted = http.post(
            f"/v1/conversations/{cid}/messages", json={"role": "user", "content": "hi"}
        )
        assert posted.status_code == 201
        seen = http.get(
            f"/v1/conversations/{cid}", params={"min_position": posted.json()["position"]}
        )
        assert seen.json()["message_count"] == 1
        assert http.get("/schema/openapi.json").status_code == 200

    operator = chronicle.data_dir / "dev-operator-key"
    assert operator.stat().st_mode & 0o777 == 0o600 and str(operator) in banner
    with chronicle.client(operator.read_text().strip()) as http:  # built-in rules, system figures
        deadline = time.monotonic() + 30
        while not any(
            rule["name"] == "store unavailable"
            for rule in http.get("/v1/alert-rules").json()["items"]
        ):
            assert time.monotonic() < deadline, "the built-in rules were not made"
            time.sleep(0.2)
        figures = http.get("/v1/metrics", params={"names": "store_available"})
        assert figures.status_code == 200, figures.text


def test_sigterm_stops_every_process_within_seconds(chronicle: Chronicle) -> None:
    chronicle.start()
    children = chronicle.children()
    assert len(children) >= 3
    assert chronicle.stop(signal.SIGTERM) < 10
    assert alive(children) == []
    assert chronicle.process is not None and chronicle.process.returncode == 0


def test_sigint_stops_every_process(chronicle: Chronicle) -> None:
    chronicle.start()
    children = chronicle.children()
    assert chronicle.stop(signal.SIGINT) < 10
    assert alive(children) == []


def test_a_restart_keeps_all_data_and_the_dev_key(chronicle: Chronicle) -> None:
    chronicle.start()
    key = chronicle.key
    with chronicle.client() as http:
        cid = http.post("/v1/conversations", json={"title": "Durable"}).json()["id"]
        kept = http.post(
            f"/v1/conversations/{cid}/messages", json={"role": "user", "content": "kept"}
        ).json()["position"]
    chronicle.stop()
    chronicle.start()
    assert chronicle.key == key
    with chronicle.client() as http:
        view = http.get(f"/v1/conversations/{cid}", params={"min_position": kept})
        assert view.status_code == 200 and view.json()["message_count"] == 1
        history = http.get(f"/v1/conversations/{cid}/messages", params={"min_position": kept})
        assert [m["content"] for m in history.json()["items"]] == ["kept"]
        events = http.get(f"/v1/streams/{cid}/events").json()["items"]
        assert [e["data"].get("content") for e in events][1] == "kept"
        assert (
            http.post(
                f"/v1/conversations/{cid}/messages", json={"role": "user", "content": "more"}
            ).json()["version"]
            == 3
        )


def test_a_kill_9_leaves_no_server_behind_and_the_next_start_works(chronicle: Chronicle) -> None:
    chronicle.start()
    children = chronicle.children()
    chronicle.stop(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while alive(children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive(children) == []
    chronicle.start()
    with chronicle.client() as http:
        assert http.post("/v1/conversations", json={"title": "After"}).status_code == 201


def test_keys_cli_works_against_a_running_up(chronicle: Chronicle) -> None:
    chronicle.start()
    created = chronicle.cli("keys", "create", "--tenant", "acme", "--scopes", "read,commands:write")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    with chronicle.client(token) as http:
        assert http.post("/v1/conversations", json={"title": "Acme"}).status_code == 201
        assert http.post("/v1/conversations", json={"title": "x"}).status_code == 201
    listed = chronicle.cli("keys", "list", "--json", "--tenant", "acme")
    assert listed.returncode == 0, listed.stderr
    keys = json.loads(listed.stdout)
    assert [(k["tenant"], k["scopes"], k["revoked"]) for k in keys] == [
        ("acme", ["commands:write", "read"], False)
    ]
    assert token not in listed.stdout
    revoked = chronicle.cli("keys", "revoke", keys[0]["key_id"])
    assert revoked.returncode == 0, revoked.stderr
    time.sleep(1.2)
    with chronicle.client(token) as http:
        assert http.post("/v1/conversations", json={"title": "x"}).status_code == 401
    stream = chronicle.cli("keys", "list", "--json", "--tenant", "acme")
    assert json.loads(stream.stdout)[0]["revoked"] is True


def test_keys_cli_starts_its_own_database_when_nothing_runs(chronicle: Chronicle) -> None:
    created = chronicle.cli("keys", "create", "--tenant", "solo")
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip().splitlines()[-1].startswith("chr_")
    assert not (chronicle.data_dir / "postgres" / "data" / "postmaster.pid").exists()


@pytest.mark.parametrize(
    "args",
    [
        ("keys", "create", "--tenant", "Not A Name"),
        ("keys", "create", "--tenant", "acme", "--scopes", "root"),
        ("keys", "revoke", "not-a-key-id"),
        ("keys", "revoke", "00000000-0000-0000-0000-000000000000"),
    ],
)
def test_bad_cli_input_is_one_line_and_non_zero(
    chronicle: Chronicle, args: tuple[str, ...]
) -> None:
    result = chronicle.cli(*args)
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_second_up_on_the_same_data_dir_is_refused(chronicle: Chronicle) -> None:
    chronicle.start()
    chronicle.extra_env = {"CHRONICLE_PORT": str(free_port())}  # its own port: not refused for that
    second = chronicle.cli("up")
    assert second.returncode != 0
    assert "another Chronicle is running" in second.stderr


def test_up_with_urls_set_uses_those_servers_and_starts_none(
    chronicle: Chronicle, servers: Settings
) -> None:
    assert servers.database_url and servers.nats_url and servers.redis_url
    chronicle.extra_env = {
        "CHRONICLE_DATABASE_URL": servers.database_url,
        "CHRONICLE_NATS_URL": servers.nats_url,
        "CHRONICLE_REDIS_URL": servers.redis_url,
    }
    chronicle.start()
    assert chronicle.children() == []
    assert not (chronicle.data_dir / "postgres").exists()
    with chronicle.client() as http:
        assert http.post("/v1/conversations", json={"title": "External"}).status_code == 201


def test_up_relays_events_to_live_clients_and_reads_catch_up(chronicle: Chronicle) -> None:
    chronicle.start()
    with chronicle.client() as http:
        cid = http.post("/v1/conversations", json={"title": "Live"}).json()["id"]
        posted = http.post(
            f"/v1/conversations/{cid}/messages", json={"role": "user", "content": "streamed"}
        ).json()
        frames = []
        with http.stream(
            "GET", "/v1/live", params={"cursor": 0, "subjects": f"conversation.{cid}"}
        ) as response:
            for line in response.iter_lines():
                if line.startswith("id: "):
                    frames.append(int(line[4:]))
                if len(frames) == 2:
                    break
        assert frames[1] == posted["position"]
        search = http.get(
            "/v1/search/messages", params={"q": "streamed", "min_position": posted["position"]}
        )
        assert [hit["content"] for hit in search.json()["items"]] == ["streamed"]
    assert _relayed(chronicle, posted["position"])


def _relayed(chronicle: Chronicle, position: int) -> bool:
    """The relay inside `up` has published up to ``position`` (its checkpoint says so)."""
    import psycopg

    runtime = json.loads((chronicle.data_dir / "servers.json").read_text())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with psycopg.connect(runtime["database_url"]) as conn:
            row = conn.execute("SELECT position FROM chronicle_relay").fetchone()
        if row and row[0] >= position:
            return True
        time.sleep(0.1)
    return False


def test_up_schedules_timeouts_and_the_worker_finds_it_by_itself(chronicle: Chronicle) -> None:
    chronicle.start()
    with chronicle.client() as http:
        slow = http.post("/v1/tasks", json={"type": "slow", "timeout_s": 0.3, "backoff_s": 0})
        first = http.post(
            "/v1/tasks/claim", json={"worker_id": "a", "types": ["slow"], "wait_s": 5}
        )
        assert first.json()["attempt"] == 1
        again = http.post(
            "/v1/tasks/claim", json={"worker_id": "b", "types": ["slow"], "wait_s": 10}
        )
        assert again.json()["attempt"] == 2 and again.json()["task"]["id"] == slow.json()["id"]
        echo = http.post("/v1/tasks", json={"type": "echo", "payload": {"hello": "worker"}}).json()
    worked = chronicle.cli("worker", "--type", "echo", "--max-tasks", "1", "--", "cat")
    assert worked.returncode == 0, worked.stderr
    with chronicle.client() as http:
        view = http.get(f"/v1/tasks/{echo['id']}", params={"min_position": echo["position"] + 2})
        assert view.json()["result"] == {"hello": "worker"}


def test_up_on_a_port_already_taken_says_so_in_one_line_and_starts_nothing(
    chronicle: Chronicle,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", chronicle.port))
        taken.listen()
        result = chronicle.cli("up")
    assert result.returncode != 0
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"port {chronicle.port} on 127.0.0.1 is already in use" in result.stderr
    assert "CHRONICLE_PORT=" in result.stderr and "make run" in result.stderr
    assert not chronicle.data_dir.exists()
    assert not [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if str(chronicle.data_dir) in " ".join(p.info["cmdline"] or [])
    ], "a server was started"


def test_a_server_that_dies_is_started_again_and_stopped_with_up(chronicle: Chronicle) -> None:
    chronicle.start()
    assert chronicle.process is not None
    nats = next(
        c for c in psutil.Process(chronicle.process.pid).children() if c.name() == "nats-server"
    )
    nats.kill()
    deadline = time.monotonic() + 30
    while not (again := _child_named(chronicle, "nats-server")) or again == nats.pid:
        assert time.monotonic() < deadline, "nats-server was not started again"
        time.sleep(0.1)
    time.sleep(1)  # it must outlive the start that spawned it (PR_SET_PDEATHSIG)
    assert alive([again]) == [again]
    with chronicle.client() as http:
        assert http.get("/readyz").status_code == 200
    log = [
        json.loads(line) for line in chronicle.output.read_text().splitlines() if line[:1] == "{"
    ]
    assert any(
        line["message"] == "embedded server exited" and line["exit_code"] == -9 for line in log
    )
    assert any(line["message"] == "embedded server restarted" for line in log)
    children = chronicle.children()
    assert chronicle.stop(signal.SIGTERM) < 10
    assert alive(children) == []
    assert chronicle.process.returncode == 0


def _child_named(chronicle: Chronicle, name: str) -> int | None:
    assert chronicle.process is not None
    for child in psutil.Process(chronicle.process.pid).children():
        if child.name() == name and child.status() != psutil.STATUS_ZOMBIE:
            return int(child.pid)
    return None
