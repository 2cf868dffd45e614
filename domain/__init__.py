"""Chronicle's domain: aggregates, their events and invariants.

Pure Python over `eventsourcing.domain`; nothing here performs I/O.
"""
