"""The durations of an API process's HTTP requests, for its `http_p95_ms` samples: counted
into log-spaced buckets 5 % wide, so recording is one logarithm, memory is fixed and a
percentile needs no sort (it is the upper edge of its bucket: at most 5 % high).

Recorded and read on the process's event loop only.
"""

from __future__ import annotations

import math

RATIO = 1.05
FLOOR_MS = 0.01  # the first bucket holds everything up to here
BUCKETS = 400  # the last holds everything from about 50 minutes on
_LOG_RATIO = math.log(RATIO)


class Latencies:
    """Request durations since the last `take_p95`."""

    def __init__(self) -> None:
        self._counts = [0] * BUCKETS
        self._total = 0

    def record(self, duration_ms: float) -> None:
        index = 0
        if duration_ms > FLOOR_MS:
            index = min(BUCKETS - 1, math.ceil(math.log(duration_ms / FLOOR_MS) / _LOG_RATIO))
        self._counts[index] += 1
        self._total += 1

    def take_p95(self) -> float | None:
        """The 95th percentile of the durations recorded since the last call (``None``
        without any), and forget them."""
        counts, total = self._counts, self._total
        self._counts, self._total = [0] * BUCKETS, 0
        if total == 0:
            return None
        wanted, seen = math.ceil(total * 0.95), 0
        for index, count in enumerate(counts):
            seen += count
            if seen >= wanted:
                return round(FLOOR_MS * RATIO**index, 3)
        raise AssertionError("unreachable: the counts add up to the total")


LATENCIES = Latencies()  # this process's; the access log records into it
