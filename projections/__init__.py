"""Read models: builders that turn events into rows, and the queries over those rows.

They know the domain's events and SQL; they never write to the event log.
"""
