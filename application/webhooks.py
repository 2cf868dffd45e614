"""Webhooks of a tenant: registering (with a signing secret it gives or Chronicle makes),
disabling, enabling, deleting, and retrying a delivery.

A secret is kept beside the log before its webhook is registered and answered at most once.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from application.commands import CommandRunner
from application.context import CommandContext
from application.errors import NotFound
from application.ports import Change, CommandResult, EventStore, WebhookSecrets
from application.tenancy import load_owned
from domain.errors import InvalidValue
from domain.webhook import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
# `whsec_` and the base64 of 24 to 98 bytes (the API's schema says the same).
_BASE64 = r"(?:[A-Za-z0-9+/]{4}){8,32}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"
SECRET_PATTERN = f"^{SECRET_PREFIX}{_BASE64}$"
SECRET = re.compile(SECRET_PATTERN)
SECRET_BYTES = 32
DISABLED_BY_FAILURE = "disabled after repeated failed deliveries"


def made_secret() -> str:
    """A new signing secret in the Standard Webhooks form: ``whsec_`` and base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def check_secret(secret: str) -> None:
    """``whsec_`` and the (padded) base64 of 24 to 98 random bytes."""
    if not SECRET.fullmatch(secret):
        raise InvalidValue("secret", "must be 'whsec_' and the base64 of 24 to 98 bytes")
    try:
        base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):  # the pattern admits none; kept as a guard
        raise InvalidValue("secret", "must be 'whsec_' and valid base64") from None


@dataclass(frozen=True)
class Registered:
    result: CommandResult
    secret: str | None  # the secret Chronicle made, answered this once; None if given


class Webhooks:
    """Use cases of a tenant's webhooks."""

    def __init__(
        self,
        store: EventStore,
        runner: CommandRunner,
        secrets_kept: WebhookSecrets,
        *,
        allow_private: bool = False,
    ) -> None:
        self._store = store
        self._runner = runner
        self._secrets = secrets_kept
        self._allow_private = allow_private

    async def register(
        self, context: CommandContext, url: str, events: list[str], secret: str | None = None
    ) -> Registered:
        """Register a webhook; its secret is kept before its first event is stored."""
        if secret is not None:
            check_secret(secret)
        signing = secret or made_secret()

        def decide() -> Change:
            webhook = Webhook.register(
                context.tenant_id, url, events, allow_private=self._allow_private
            )
            self._secrets.keep(webhook.id, signing)
            return Change((webhook,), webhook)

        result = await self._runner.run(context, decide)
        made = secret is None and not result.replayed  # a replay cannot show it again
        return Registered(result, signing if made else None)

    async def disable(
        self, context: CommandContext, webhook_id: UUID, reason: str
    ) -> CommandResult:
        """Stop its deliveries until it is enabled (`409` if it is disabled already)."""
        return await self._change(context, webhook_id, lambda webhook: webhook.disable(reason))

    async def enable(self, context: CommandContext, webhook_id: UUID) -> CommandResult:
        """Deliver again, from the oldest delivery waiting (`409` if it is enabled)."""
        return await self._change(context, webhook_id, Webhook.enable)

    async def delete(self, context: CommandContext, webhook_id: UUID) -> CommandResult:
        """Delete it: not found from now on; its deliveries and secret are dropped."""
        return await self._change(context, webhook_id, Webhook.delete)

    async def retry_delivery(
        self, context: CommandContext, webhook_id: UUID, delivery_id: UUID
    ) -> CommandResult:
        """Record the retry; the dispatcher puts the delivery back in line."""
        return await self._change(
            context, webhook_id, lambda webhook: webhook.retry_delivery(str(delivery_id))
        )

    def find(self, tenant_id: str, webhook_id: UUID) -> Webhook:
        """The tenant's webhook, not deleted (`NotFound` otherwise, or for another tenant's)."""
        try:
            webhook = load_owned(self._store, webhook_id, Webhook, tenant_id)
        except NotFound:
            webhook = None
        if webhook is None or webhook.deleted:
            raise NotFound(f"webhook {webhook_id} not found")
        return webhook

    async def _change(
        self, context: CommandContext, webhook_id: UUID, change: Callable[[Webhook], None]
    ) -> CommandResult:
        def decide() -> Change:
            webhook = self.find(context.tenant_id, webhook_id)
            change(webhook)
            return Change((webhook,), webhook)

        return await self._runner.run(context, decide, retry_on_conflict=True)
