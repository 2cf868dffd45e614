"""The scheduler: times out tasks whose lease expired, from what the log says,
forgets the queue's claims the read model has caught up with, and (now and then) does
what is periodic: the metrics history past its retention, and personal data past each
tenant's retention.

Timers are data (lease_until, run_at), so a restart loses none; each timeout is a
command the task accepts only once, so none fires twice.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

import structlog

from application.context import CommandContext
from application.tasks import Tasks
from infrastructure.portal import Portal
from infrastructure.task_queue import PostgresTaskQueue

log = structlog.get_logger(__name__)
TICK_SECONDS = 0.25


class Periodic(Protocol):
    """Work done now and then: ``due`` does it when its interval has passed."""

    def due(self) -> int | None: ...


class Scheduler:
    """Scans for expired leases (and claims to forget) every tick until stopped."""

    def __init__(
        self,
        tasks: Tasks,
        queue: PostgresTaskQueue,
        portal: Portal,
        tick: float = TICK_SECONDS,
        periodic: Sequence[Periodic] = (),
    ) -> None:
        self.tasks = tasks
        self.periodic = periodic
        self.queue = queue
        self.portal = portal
        self.tick = tick
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name="scheduler", daemon=True)

    def run(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self.fire_due()
                self.queue.forget_claims()
                for work in self.periodic:
                    work.due()
            except Exception as error:  # e.g. the store's StoreUnavailable: the thread must live
                log.warning(
                    "scheduler could not time out tasks", error=f"{type(error).__name__}: {error}"
                )

    def fire_due(self) -> int:
        fired = 0
        for task_id, tenant in self.queue.expired_leases():
            context = CommandContext(tenant_id=tenant, actor="scheduler", command="task.time_out")
            if self.portal.call(self.tasks.time_out, context, task_id) is not None:
                fired += 1
        return fired

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def wait(self) -> None:
        while not self._stop.wait(0.5):
            pass
