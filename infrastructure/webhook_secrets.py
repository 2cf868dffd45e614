"""Webhooks' signing secrets, kept in PostgreSQL beside the log but never in it, by webhook.

Only the deliverer reads them; an API answers a secret once, when Chronicle made it.
"""

from __future__ import annotations

from uuid import UUID

import psycopg

SECRETS_TABLE = "chronicle_webhook_secrets"
_KEEP = (
    f"INSERT INTO {SECRETS_TABLE} (webhook_id, secret) VALUES (%s, %s)"  # noqa: S608
    " ON CONFLICT (webhook_id) DO NOTHING"
)


class PostgresWebhookSecrets:
    """`application.ports.WebhookSecrets` over the ``chronicle_webhook_secrets`` table."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def keep(self, webhook_id: UUID, secret: str) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(_KEEP, (webhook_id, secret))
