"""`chronicle up` with a standalone `chronicle relay` and `chronicle project` on its
servers, as the fault tests drive it: find, kill -9 and start again its processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import psutil
import psycopg

from infrastructure.relay import RELAY_LOCK
from tests.e2e.conftest import CHRONICLE, Chronicle

SERVER_PROCESSES = {"postgres": "postgres", "nats": "nats-server", "valkey": "valkey-server"}
BACK_WITHIN_S = 60


@dataclass
class Stack:
    """`chronicle up` with a standalone relay and projector on its servers."""

    up: Chronicle
    helpers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def runtime(self, name: str) -> str:
        """A URL `up` wrote to its data directory (``database_url``, ``nats_url``…)."""
        return str(json.loads((self.up.data_dir / "servers.json").read_text())[name])

    def query(self, sql: str, *params: object) -> Any:
        """The first column of the first row (a fresh connection: servers come and go)."""
        with psycopg.connect(self.runtime("database_url"), autocommit=True) as conn:
            row = conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def spawn(self, command: str) -> None:
        """Start `chronicle <command>` and wait until it works (one that cannot reach a
        server while it starts says so and exits)."""
        output = self.up.data_dir.parent / f"{command}.log"
        begun = output.stat().st_size if output.exists() else 0
        helper = subprocess.Popen(
            [CHRONICLE, command],
            env=self.up.env,
            stdout=output.open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.helpers[command] = helper
        nats_port = int(self.runtime("nats_url").rsplit(":", 1)[1])

        def working() -> bool:
            if command == "project":
                return "projecting" in output.read_text()[begun:]
            connections = psutil.Process(helper.pid).net_connections("tcp")
            return any(c.raddr and c.raddr.port == nats_port for c in connections)

        deadline = time.monotonic() + 60
        while not working():
            assert helper.poll() is None, output.read_text()[begun:]
            assert time.monotonic() < deadline, f"chronicle {command} did not start"
            time.sleep(0.1)

    def server_pid(self, name: str) -> int | None:
        """The pid of `up`'s child running this server, if one runs."""
        assert self.up.process is not None
        for child in psutil.Process(self.up.process.pid).children():
            with contextlib.suppress(psutil.NoSuchProcess):
                if child.name() == SERVER_PROCESSES[name] and child.status() != "zombie":
                    return int(child.pid)
        return None

    def relay_lock_holder(self) -> int | None:
        """The pid of the process whose session holds the active relay's lock."""
        port = self.query(
            "SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.objid = %s AND l.granted",
            RELAY_LOCK,
        )
        assert self.up.process is not None
        running = [h.pid for h in self.helpers.values() if h.poll() is None]
        for pid in (self.up.process.pid, *running):
            with contextlib.suppress(psutil.NoSuchProcess):
                if any(c.laddr.port == port for c in psutil.Process(pid).net_connections()):
                    return pid
        return None

    def stop(self) -> None:
        for helper in self.helpers.values():
            helper.send_signal(signal.SIGTERM)
        for helper in self.helpers.values():
            try:
                helper.wait(15)
            except subprocess.TimeoutExpired:
                helper.kill()
        self.up.stop(timeout=30)

    def make_standalone_relay_active(self, within_s: float = 30) -> None:
        """End the sessions of `up`'s relay until the standalone one takes the lock."""
        deadline = time.monotonic() + within_s
        while (holder := self.relay_lock_holder()) != self.helpers["relay"].pid:
            assert time.monotonic() < deadline, "the standalone relay never became active"
            if holder is not None:
                self.query(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks"
                    " WHERE locktype = 'advisory' AND objid = %s AND granted",
                    RELAY_LOCK,
                )
            time.sleep(0.2)


async def kill(stack: Stack, target: str) -> dict[str, object]:
    """SIGKILL ``target``; returns once it (or its standby) works again, with figures."""
    began = time.monotonic()
    if target in SERVER_PROCESSES:
        pid = stack.server_pid(target)
        assert pid is not None, f"no {target} among up's children"
        os.kill(pid, signal.SIGKILL)
        while stack.server_pid(target) in (None, pid) or not await ready(stack):
            assert time.monotonic() - began < BACK_WITHIN_S, f"{target} did not come back"
            await asyncio.sleep(0.05)
        return {"back_s": round(time.monotonic() - began, 2)}
    helper = stack.helpers[target]
    figures: dict[str, object] = {}
    if target == "relay":
        figures["was_active"] = await asyncio.to_thread(stack.relay_lock_holder) == helper.pid
    helper.send_signal(signal.SIGKILL)
    helper.wait(10)
    if target == "relay":  # `up`'s relay stood by: it takes over
        while await asyncio.to_thread(stack.relay_lock_holder) in (None, helper.pid):
            assert time.monotonic() - began < BACK_WITHIN_S, "no relay took over"
            await asyncio.sleep(0.05)
        figures["back_s"] = round(time.monotonic() - began, 2)
    await asyncio.to_thread(stack.spawn, target)  # as its process manager would
    return figures


async def ready(stack: Stack) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2) as http:
            return (await http.get(f"{stack.up.url}/readyz")).status_code == 200
    except httpx.HTTPError:
        return False
