"""The follower's retries: delays that double while tries fail, and how each failure is
logged (no server)."""

from __future__ import annotations

import psycopg
from structlog.testing import capture_logs

from infrastructure.log_follower import Retrying
from infrastructure.supervisor import Backoff

BACKOFF = Backoff(first_s=0.1, most_s=0.4, stable_s=10.0)


def test_the_delay_doubles_while_tries_keep_failing_up_to_the_most() -> None:
    retrying = Retrying("follower", backoff=BACKOFF)
    error = psycopg.OperationalError("gone")
    assert [retrying.failed(error, 0.0) for _ in range(4)] == [0.1, 0.2, 0.4, 0.4]


def test_a_success_or_a_long_run_starts_the_delays_again_from_the_first() -> None:
    retrying = Retrying("follower", backoff=BACKOFF)
    error = psycopg.OperationalError("gone")
    retrying.failed(error, 0.0)
    retrying.failed(error, 0.0)
    retrying.succeeded()
    assert retrying.failed(error, 0.0) == 0.1
    retrying.failed(error, 0.0)
    assert retrying.failed(error, ran_s=10.0) == 0.1  # it had worked: a new outage


def test_an_expected_failure_is_a_warning_and_any_other_is_logged_with_its_traceback() -> None:
    retrying = Retrying("projector", backoff=BACKOFF, projection="messages")
    with capture_logs() as logs:
        retrying.failed(psycopg.OperationalError("server closed the connection"), 0.0)
        try:
            raise KeyError("bug")
        except KeyError as error:
            retrying.failed(error, 0.0)
    warning, failure = logs
    assert warning["event"] == "projector interrupted; retrying"
    assert warning["log_level"] == "warning"
    assert warning["error"] == "OperationalError: server closed the connection"
    assert warning["projection"] == "messages"
    assert failure["event"] == "projector failed"
    assert failure["log_level"] == "error"
    assert failure["exc_info"] is True
