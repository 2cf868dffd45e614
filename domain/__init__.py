"""Chronicle's domain: aggregates, their events and invariants.

Pure Python over `eventsourcing.domain`; nothing here performs I/O.
"""

from domain import moved  # noqa: F401 - old topics resolve wherever the domain is used
