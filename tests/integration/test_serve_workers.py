"""`chronicle serve --workers N`: N API processes share the port and answer commands,
and a SIGTERM stops them all; a bad worker count is refused in one line."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import httpx

from infrastructure.embedded import free_port, port_open
from infrastructure.settings import Settings
from tests.integration.cli import CHRONICLE, cli_env, run_cli
from tests.integration.conftest import KeyFactory


def workers_of(pid: int) -> set[int]:
    """Worker processes spawned by ``pid`` (not multiprocessing's resource tracker)."""
    return {child for child in children_of(pid) if b"spawn_main" in cmdline(child)}


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def children_of(pid: int) -> set[int]:
    """Processes whose parent is ``pid``."""
    found = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
        except OSError:
            continue  # the process ended while we looked
        if fields.get("PPid", "").strip() == str(pid):
            found.add(int(status.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_two_workers_share_the_port_and_stop_together(
    servers: Settings, issue_key: KeyFactory, tmp_path: Path
) -> None:
    token = issue_key()
    port = free_port()
    env = cli_env(servers) | {"CHRONICLE_PORT": str(port)}
    logged = tmp_path / "serve.err"
    serve = subprocess.Popen(
        [CHRONICLE, "serve", "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=logged.open("w"),
    )
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while not (port_open("127.0.0.1", port) and len(workers_of(serve.pid)) >= 2):
            assert time.monotonic() < deadline, "the workers did not start"
            assert serve.poll() is None, "serve exited"
            time.sleep(0.1)
        workers = workers_of(serve.pid)
        assert len(workers) == 2
        for n in range(20):  # fresh connections, accepted by whichever worker is ready
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {token}", "Connection": "close"},
            ) as http:
                answer = http.post("/v1/conversations", json={"title": f"w{n}"})
            assert answer.status_code == 201, answer.text
    finally:
        serve.send_signal(signal.SIGTERM)
        code = serve.wait(20)
    assert code == 0
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers):
        assert time.monotonic() < deadline, "a worker outlived serve"
        time.sleep(0.1)
    # The supervisor and the workers it spawned all log JSON lines (stderr is a file).
    lines = [json.loads(line) for line in logged.read_text().splitlines()]
    access = [line for line in lines if line["logger"] == "chronicle.access"]
    assert sum(line["path"] == "/v1/conversations" for line in access) == 20
    assert any(line["message"].startswith("Started parent process") for line in lines)


def test_a_worker_count_below_one_is_refused_in_one_line(servers: Settings) -> None:
    refused = run_cli(servers, "serve", "--workers", "0")
    assert refused.returncode == 2
    assert "--workers" in refused.stderr
    env_refused = subprocess.run(
        [CHRONICLE, "serve"],
        env=cli_env(servers) | {"CHRONICLE_API_WORKERS": "0"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert env_refused.returncode == 2
    assert env_refused.stderr.strip().splitlines() == [
        "error: CHRONICLE_API_WORKERS must be 1 or more, not 0"
    ]
