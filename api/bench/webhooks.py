"""Webhooks scenario: deliveries/s of a backlog to a local receiver (one webhook, whose
deliveries go one at a time in log order; and eight webhooks at once), and event →
delivery latency at a steady rate of events.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from uuid import UUID

import msgspec

from api.bench.fanout import summary
from api.bench.report import Plan, Report, fresh_database
from api.bootstrap import Container
from application.context import CommandContext
from infrastructure.embedded import free_port
from infrastructure.settings import Settings

FANOUT_WEBHOOKS = 8


class Sink:
    """Counts what each path receives, and each event's age on arrival (ms)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.ages_ms: dict[str, list[float]] = {}
        self.lock = threading.Lock()
        self.url = ""

    def take(self, path: str, body: bytes) -> None:
        recorded = datetime.fromisoformat(msgspec.json.decode(body)["time"]).timestamp()
        with self.lock:
            self.counts[path] = self.counts.get(path, 0) + 1
            self.ages_ms.setdefault(path, []).append((time.time() - recorded) * 1000)

    def wait_for(self, paths: list[str], count: int, within_s: float = 300) -> None:
        deadline = time.monotonic() + within_s
        while any(self.counts.get(p, 0) < count for p in paths):
            if time.monotonic() > deadline:
                raise RuntimeError(f"webhooks: {self.counts} of {count} each, in {within_s}s")
            time.sleep(0.005)


@contextmanager
def sink() -> Iterator[Sink]:
    found = Sink()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as receivers serve

        def do_POST(self) -> None:
            found.take(self.path, self.rfile.read(int(self.headers["content-length"])))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    server.daemon_threads = True
    found.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()


def _context(tenant: str, command: str) -> CommandContext:
    return CommandContext(tenant_id=tenant, actor="bench", command=command)


async def _post(container: Container, tenant: str, conversation: UUID, count: int) -> None:
    post = container.conversations.post_message
    for start in range(0, count, 100):
        await asyncio.gather(
            *(
                post(_context(tenant, "conversation.post"), conversation, role="user", content="x")
                for _ in range(start, min(count, start + 100))
            )
        )


def _register(container: Container, tenant: str, url: str) -> None:
    register = container.webhooks.register
    container.portal.call(register, _context(tenant, "webhook.register"), url, ["MessagePosted"])


def _conversation(container: Container, tenant: str) -> UUID:
    started = container.portal.call(
        container.conversations.start, _context(tenant, "conversation.start"), "bench", []
    )
    return started.id


def _backlog_rate(
    container: Container, found: Sink, tenant: str, paths: list[str], count: int
) -> float:
    """Deliveries/s of ``count`` events already in the log, to each of ``paths`` (webhooks
    of a tenant of their own, which gets nothing else)."""
    for path in paths:
        _register(container, tenant, found.url + path)
    container.portal.call(_post, container, tenant, _conversation(container, tenant), count)
    worker = container.webhook_worker()
    began = time.perf_counter()
    worker.start()
    try:
        found.wait_for(paths, count)
        return count * len(paths) / (time.perf_counter() - began)
    finally:
        worker.stop()


def bench_webhooks_scenario(
    settings: Settings, plan: Plan, report: Report, say: Callable[[str], None]
) -> None:
    dsn = fresh_database(settings.database_url or "", "bench_webhooks")
    hook_settings = replace(settings, database_url=dsn, webhooks_allow_private=True)
    container = Container.build(hook_settings)
    try:
        with sink() as found:
            say(f"webhooks: a backlog of {plan.tasks:,} events to one webhook")
            one = _backlog_rate(container, found, "bench-one", ["/one"], plan.tasks)
            say(f"webhooks: a backlog of {plan.tasks:,} events to each of {FANOUT_WEBHOOKS}")
            paths = [f"/many-{n}" for n in range(FANOUT_WEBHOOKS)]
            many = _backlog_rate(container, found, "bench-many", paths, plan.tasks)
            say(f"webhooks: event → delivery latency at 20 events/s for {plan.live_seconds:g}s")
            _register(container, "bench-latency", found.url + "/latency")
            conversation = _conversation(container, "bench-latency")
            worker = container.webhook_worker()
            worker.start()
            try:
                events = int(20 * plan.live_seconds)
                for _ in range(events):
                    container.portal.call(_post, container, "bench-latency", conversation, 1)
                    time.sleep(0.05)
                found.wait_for(["/latency"], events)
            finally:
                worker.stop()
            ages = [max(a, 0.0) for a in found.ages_ms["/latency"]]
    finally:
        container.close()
    lat = summary(ages)
    report.add(
        "webhook_deliveries_per_s", round(one, 1), "deliveries/s, one webhook", f"{one:,.0f}"
    )
    report.add(
        f"webhook_deliveries_per_s_{FANOUT_WEBHOOKS}",
        round(many, 1),
        f"deliveries/s, {FANOUT_WEBHOOKS} webhooks",
        f"{many:,.0f}",
    )
    report.add("webhook_latency_p50_ms", lat["p50"], "event → delivery p50", f"{lat['p50']:.1f} ms")
    report.add("webhook_latency_p99_ms", lat["p99"], "event → delivery p99", f"{lat['p99']:.1f} ms")
