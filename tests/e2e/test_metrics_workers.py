"""`chronicle serve` with two worker processes: /metrics sums what both counted, whichever
worker answers the scrape; a worker killed leaves its counts, not its live connections;
each worker writes its operational samples under a source of its own."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from infrastructure.embedded import free_port, port_open
from infrastructure.metrics import forget_dead_processes
from infrastructure.settings import Settings
from tests.integration.cli import CHRONICLE, cli_env, run_cli

BATCH = 10
COMMANDS_AT_MOST = 300
SCRAPES = 8


def created(samples: list[tuple[str, dict[str, str], float]]) -> tuple[float, float]:
    """(commands `conversation.start` answered ok, `ConversationStarted` events appended)."""
    commands = events = 0.0
    for name, labels, value in samples:
        if name == "chronicle_commands_total" and labels == {
            "command": "conversation.start",
            "outcome": "ok",
        }:
            commands += value
        if name == "chronicle_events_appended_total" and labels == {
            "category": "conversation",
            "type": "ConversationStarted",
        }:
            events += value
    return commands, events


def samples_of(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def counted_by_each_process(directory: Path, scratch: Path) -> dict[int, float]:
    """Commands each worker counted, from its own files alone."""
    counted = {}
    for pid in {p.stem.rsplit("_", 1)[1] for p in directory.glob("counter_*.db")}:
        alone = Path(tempfile.mkdtemp(dir=scratch))
        for path in directory.glob(f"*_{pid}.db"):
            shutil.copy(path, alone / path.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, str(alone))  # type: ignore[no-untyped-call]
        samples = [(s.name, s.labels, s.value) for m in registry.collect() for s in m.samples]
        counted[int(pid)] = created(samples)[0]
    return counted


def by_worker(tmp_path: Path) -> dict[int, float]:
    """Commands each worker of the serve started with TMPDIR=``tmp_path`` counted."""
    directories = list(tmp_path.glob("chronicle-metrics-*"))
    if not directories:
        return {}
    (shared,) = directories
    return counted_by_each_process(shared, tmp_path)


def sample_sources(dsn: str) -> set[str]:
    """The sources that wrote `live_connections` samples (one per API process)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT DISTINCT source FROM chronicle_sample_minutes WHERE name = 'live_connections'"
        ).fetchall()
    return {row[0] for row in rows}


def test_two_workers_counters_are_summed_whichever_answers(
    servers: Settings, tmp_path: Path
) -> None:
    issued = run_cli(
        servers, "keys", "create", "--tenant", "metrics", "--scopes", "commands:write,read"
    )
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.split()[-1]
    port = free_port()
    assert servers.database_url
    before = sample_sources(servers.database_url)
    env = cli_env(servers) | {
        "CHRONICLE_PORT": str(port),
        "CHRONICLE_API_WORKERS": "2",
        "CHRONICLE_SAMPLE_INTERVAL_S": "0.2",
        "CHRONICLE_LOG_LEVEL": "warning",
        "TMPDIR": str(tmp_path),  # where serve makes the workers' metrics directory
    }
    serve = subprocess.Popen(
        [CHRONICLE, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not port_open("127.0.0.1", port):
            assert time.monotonic() < deadline, "serve did not start"
            assert serve.poll() is None, "serve exited"
            time.sleep(0.1)

        def create(n: int) -> int:
            # A new connection each time, accepted by whichever worker is ready.
            answer = httpx.post(
                f"{base}/v1/conversations",
                json={"title": f"m{n}"},
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            return answer.status_code

        # Until each worker has answered some: the kernel picks the worker that accepts.
        sent = 0
        with ThreadPoolExecutor(8) as pool:
            while len([n for n in by_worker(tmp_path).values() if n]) < 2:
                assert sent < COMMANDS_AT_MOST, "one worker answered every command"
                assert list(pool.map(create, range(BATCH))) == [201] * BATCH
                sent += BATCH

        for _ in range(SCRAPES):
            scraped = httpx.get(f"{base}/metrics", timeout=30)
            assert scraped.status_code == 200
            assert created(samples_of(scraped.text)) == (sent, sent)
        assert sum(by_worker(tmp_path).values()) == sent
        while len(sample_sources(servers.database_url) - before) < 2:
            assert time.monotonic() < deadline + 30, "the workers wrote no samples"
            time.sleep(0.1)
        assert len(sample_sources(servers.database_url) - before) == 2  # one per worker
    finally:
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(20) == 0
    assert not list(tmp_path.glob("chronicle-metrics-*")), "serve left its metrics directory"


KILLED_WORKER = """
import os
from infrastructure.metrics import COMMANDS, LIVE_CONNECTIONS
LIVE_CONNECTIONS.labels("sse").inc()
COMMANDS.labels("conversation.start", "ok").inc()
os.kill(os.getpid(), 9)
"""


def test_a_killed_workers_live_connections_are_dropped_and_its_counts_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    killed = subprocess.run([sys.executable, "-c", KILLED_WORKER], env=env, check=False)
    assert killed.returncode == -signal.SIGKILL
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    def summed() -> list[tuple[str, dict[str, str], float]]:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, str(tmp_path))  # type: ignore[no-untyped-call]
        return [(s.name, s.labels, s.value) for m in registry.collect() for s in m.samples]

    assert ("chronicle_live_connections", {"transport": "sse"}, 1.0) in summed()
    forget_dead_processes()
    assert not [s for s in summed() if s[0] == "chronicle_live_connections"]
    assert created(summed())[0] == 1
