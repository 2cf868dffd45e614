"""The supervisor's restart rules, with stand-in servers (no processes)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from structlog.testing import capture_logs

from infrastructure.supervisor import Backoff, Supervisor

QUICK = Backoff(first_s=0.01, most_s=0.04, stable_s=60)


class Server:
    """Runs until `die`; each `start` fails while ``failures`` remain (exiting with 1)."""

    def __init__(self, name: str = "db", failures: int = 0) -> None:
        self.name = name
        self.failures = failures
        self.code: int | None = None
        self.starts = 0
        self.stops = 0
        self.started_on: list[str] = []

    def exit_code(self) -> int | None:
        return self.code

    def die(self, code: int = -9) -> None:
        self.code = code

    def start(self) -> None:
        self.starts += 1
        self.started_on.append(threading.current_thread().name)
        if self.failures:
            self.failures -= 1
            self.code = 1
            raise RuntimeError("exited with 1")
        self.code = None

    def stop(self) -> None:
        self.stops += 1

    def last_words(self) -> str:
        return "FATAL:  pre-existing shared memory block is still in use" if self.code == 1 else ""


@pytest.fixture
def supervise() -> Iterator[Callable[..., Supervisor]]:
    made: list[Supervisor] = []

    def make(*servers: Server, backoff: Backoff = QUICK) -> Supervisor:
        supervisor = Supervisor(servers, backoff, poll_s=0.005)
        supervisor.start()
        made.append(supervisor)
        return supervisor

    yield make
    for supervisor in made:
        supervisor.close()


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the timeout"
        time.sleep(0.005)


def test_backoff_doubles_from_the_first_delay_up_to_the_most() -> None:
    delays = [Backoff(first_s=0.5, most_s=10).delay(attempt) for attempt in range(1, 8)]
    assert delays == [0.5, 1, 2, 4, 8, 10, 10]


def test_a_server_that_exits_is_started_again_on_a_watcher_thread(
    supervise: Callable[..., Supervisor],
) -> None:
    server = Server("nats")
    supervise(server)
    with capture_logs() as logs:
        server.die(-9)
        eventually(lambda: server.starts == 1 and len(logs) == 2)
    assert server.exit_code() is None
    assert server.started_on == ["supervise-nats"]  # the thread its child dies with
    exited, restarted = logs
    assert exited["event"] == "embedded server exited"
    assert (exited["server"], exited["exit_code"], exited["attempt"]) == ("nats", -9, 1)
    assert exited["restart_in_s"] == QUICK.first_s
    assert restarted["event"] == "embedded server restarted" and restarted["attempt"] == 1


def test_a_server_that_fails_to_start_is_tried_again_with_growing_delays(
    supervise: Callable[..., Supervisor],
) -> None:
    server = Server("postgres", failures=3)
    supervise(server)
    with capture_logs() as logs:
        server.die(-9)
        eventually(lambda: server.starts == 4 and server.exit_code() is None and len(logs) == 5)
    exits = [line for line in logs if line["event"] == "embedded server exited"]
    assert [(e["exit_code"], e["attempt"], e["restart_in_s"]) for e in exits] == [
        (-9, 1, 0.01),
        (1, 2, 0.02),
        (1, 3, 0.04),
        (1, 4, 0.04),
    ]
    assert "shared memory" in exits[1]["said"]
    assert logs[-1]["event"] == "embedded server restarted" and logs[-1]["attempt"] == 4


def test_attempts_count_again_from_one_after_the_server_stayed_up(
    supervise: Callable[..., Supervisor],
) -> None:
    server = Server()
    supervise(server, backoff=Backoff(first_s=0.01, most_s=1, stable_s=0.05))
    with capture_logs() as logs:
        server.die()
        eventually(lambda: server.starts == 1)
        time.sleep(0.1)
        server.die()
        eventually(lambda: server.starts == 2)
    assert [e["attempt"] for e in logs if e["event"] == "embedded server exited"] == [1, 1]


def test_each_server_is_watched_on_its_own(supervise: Callable[..., Supervisor]) -> None:
    slow, quick = Server("postgres", failures=1000), Server("valkey")
    supervise(slow, quick, backoff=Backoff(first_s=0.01, most_s=10, stable_s=60))
    slow.die()
    eventually(lambda: slow.starts >= 3)  # now waiting seconds before its next attempt
    quick.die()
    eventually(lambda: quick.starts == 1)


def test_no_server_is_started_once_stopped(supervise: Callable[..., Supervisor]) -> None:
    server = Server()
    supervisor = supervise(server, backoff=Backoff(first_s=0.2, most_s=1, stable_s=60))
    server.die()
    time.sleep(0.05)  # seen, and waiting to restart
    supervisor.stop()
    time.sleep(0.3)
    assert server.starts == 0


def test_the_watchers_live_until_closed(supervise: Callable[..., Supervisor]) -> None:
    supervisor = supervise(Server("postgres"), Server("nats"))
    supervisor.stop()
    time.sleep(0.05)
    watchers = [t for t in threading.enumerate() if t.name.startswith("supervise-")]
    assert len(watchers) == 2, "a restarted server would die with its watcher"
    supervisor.close()
    assert all(not t.is_alive() for t in watchers)
