"""Secrets of a deployment, kept in PostgreSQL beside the log but never in it: made once,
at random, by the first process that needs one, and read by every other at start-up."""

from __future__ import annotations

import secrets

import psycopg

from infrastructure.read_models import SETUP_LOCK

CREATE_SECRETS = (
    "CREATE TABLE IF NOT EXISTS chronicle_secrets (name text PRIMARY KEY,"
    " secret bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
)
_MAKE = "INSERT INTO chronicle_secrets (name, secret) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING"
_READ = "SELECT secret FROM chronicle_secrets WHERE name = %s"


def stored_secret(dsn: str, name: str, size: int = 32) -> bytes:
    """The secret called ``name``; made now if there is none yet (concurrent makers
    agree: the first insert wins and both read it)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        with conn.transaction():  # processes starting together create the table once
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SETUP_LOCK,))
            conn.execute(CREATE_SECRETS)
        conn.execute(_MAKE, (name, secrets.token_bytes(size)))
        row = conn.execute(_READ, (name,)).fetchone()
    assert row is not None
    return bytes(row[0])
