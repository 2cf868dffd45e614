"""`chronicle worker`, the task worker: claims tasks over HTTP and runs a command for each
— payload on stdin, result from stdout, heartbeats while it runs — so no client code is
needed. It is a client of the API and reaches no server directly.

Each task runs in the trace of the command that submitted it: the command gets it as
``TRACEPARENT`` (the convention of OpenTelemetry's environment carriers) and the worker's
reports carry it as ``traceparent``; when the worker traces, inside a span of its own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from opentelemetry.trace import SpanKind, Status, StatusCode

from infrastructure import tracing

log = structlog.get_logger(__name__)
CLAIM_WAIT_SECONDS = 10.0


@dataclass
class WorkerConfig:
    api_url: str
    api_key: str
    types: list[str]
    command: list[str]
    worker_id: str
    max_tasks: int | None = None


class Worker:
    """Claim, run, report; until stopped or ``max_tasks`` are done."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.http = httpx.Client(
            base_url=config.api_url,
            headers={"Authorization": f"Bearer {config.api_key}"},
            timeout=CLAIM_WAIT_SECONDS + 10,
        )
        self.stopping = threading.Event()
        self.done = 0

    def run(self) -> int:
        while not self.stopping.is_set():
            if self.config.max_tasks is not None and self.done >= self.config.max_tasks:
                break
            response = self.http.post(
                "/v1/tasks/claim",
                json={
                    "worker_id": self.config.worker_id,
                    "types": self.config.types,
                    "wait_s": CLAIM_WAIT_SECONDS,
                },
            )
            if response.status_code == 204:
                continue
            response.raise_for_status()
            self.process(response.json())
            self.done += 1
        self.http.close()
        return self.done

    def process(self, claim: dict[str, Any]) -> None:
        task = claim["task"]
        with tracing.tracer("worker").start_as_current_span(
            f"task {task['type']}",
            context=tracing.context_of(claim.get("traceparent")),
            kind=SpanKind.CONSUMER,
            attributes={
                "chronicle.task.id": task["id"],
                "chronicle.task.attempt": claim["attempt"],
            },
        ) as span:
            traceparent = tracing.traceparent_of(span) or claim.get("traceparent")
            failed = self._run(claim, traceparent)
            if failed:
                span.set_status(Status(StatusCode.ERROR, failed))

    def _run(self, claim: dict[str, Any], traceparent: str | None) -> str | None:
        """Run the command for a claimed task and report how it went; its error, if any."""
        task = claim["task"]
        task_id = task["id"]
        interval = max(0.05, float(task["timeout_s"]) / 3)
        trace = {"traceparent": traceparent} if traceparent else {}
        process = subprocess.Popen(
            self.config.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "TRACEPARENT": traceparent} if traceparent else None,
        )
        cancelled = threading.Event()
        beating = threading.Thread(
            target=self._heartbeat,
            args=(task_id, interval, process, cancelled, trace),
            daemon=True,
        )
        beating.start()
        stdout, stderr = process.communicate(json.dumps(task["payload"]))
        cancelled_now = cancelled.is_set()
        cancelled.set()
        beating.join()
        if cancelled_now:
            log.info("task cancelled while running", task=task_id)
            return "cancelled"
        attempt = claim["attempt"]
        if process.returncode == 0:
            self._report(task_id, attempt, "complete", {"result": _result(stdout)}, trace)
            return None
        error = (stderr.strip() or f"exit status {process.returncode}")[-4000:]
        self._report(task_id, attempt, "fail", {"error": error, "retryable": True}, trace)
        return error

    def _heartbeat(
        self,
        task_id: str,
        interval: float,
        process: subprocess.Popen[str],
        stop: threading.Event,
        trace: dict[str, str],
    ) -> None:
        while not stop.wait(interval):
            response = self.http.post(f"/v1/tasks/{task_id}/heartbeat", json={}, headers=trace)
            if response.status_code == 409 and "task-cancelled" in response.text:
                stop.set()
                process.send_signal(signal.SIGTERM)
                return

    def _report(
        self, task_id: str, attempt: int, action: str, body: dict[str, Any], trace: dict[str, str]
    ) -> None:
        """Report the outcome, retrying transport errors; the key makes retries safe."""
        path = f"/v1/tasks/{task_id}/{action}"
        key = f"worker:{task_id}:{attempt}:{action}"
        for retry in range(5):
            try:
                response = self.http.post(
                    path, json=body, headers={"Idempotency-Key": key, **trace}
                )
            except httpx.TransportError:
                time.sleep(0.2 * 2**retry)
                continue
            if response.status_code < 500:
                if response.status_code >= 400:
                    log.warning("report refused", path=path, status=response.status_code)
                return
        log.error("could not report", path=path)


def _result(stdout: str) -> Any:
    """JSON output as is; anything else as ``{"output": text}``."""
    try:
        return json.loads(stdout)
    except ValueError:
        return {"output": stdout}


def default_worker_id() -> str:
    return f"{os.uname().nodename}:{os.getpid()}"
