"""An API process's request durations: the 95th percentile is within 5 % above the exact
one, and each reading starts the count again."""

from __future__ import annotations

import math

from infrastructure.request_latency import Latencies


def test_the_95th_percentile_is_at_most_five_percent_above_the_exact_one() -> None:
    latencies = Latencies()
    durations = [float(ms) for ms in range(1, 1001)]
    for ms in durations:
        latencies.record(ms)
    exact = sorted(durations)[math.ceil(len(durations) * 0.95) - 1]
    p95 = latencies.take_p95()
    assert p95 is not None and exact <= p95 <= exact * 1.05


def test_a_reading_forgets_what_it_read() -> None:
    latencies = Latencies()
    latencies.record(2000.0)
    assert latencies.take_p95() is not None
    assert latencies.take_p95() is None
    latencies.record(0.0)  # below the first bucket's edge
    assert latencies.take_p95() == 0.01
