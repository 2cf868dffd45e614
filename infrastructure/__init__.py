"""Adapters to PostgreSQL, NATS, Valkey/Redis and the embedded servers; settings.

Implements the application's ports; holds no business rules.
"""
