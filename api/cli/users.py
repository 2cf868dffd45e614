"""`chronicle tokens`, `chronicle users` and `chronicle notify`: mint a token for one of a
tenant's users, rotate a tenant's signing key, revoke every token of a user, send a user a
notification (what a platform's backend does over HTTP, for operators)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

import typer

from api.cli.common import cli_context, container, fail, out
from application.notifications import Notice
from application.people import TokenGrant
from domain.people import PRIORITIES, TOKEN_MAX_SECONDS, USER_SCOPES

tokens = typer.Typer(help="Mint tokens for a tenant's users.", no_args_is_help=True)
users = typer.Typer(help="Act on a tenant's users.", no_args_is_help=True)


@tokens.command("create")
def tokens_create(
    tenant: Annotated[str, typer.Option(help="The user's tenant.")],
    user: Annotated[str, typer.Option(help="The user id, as the platform names the user.")],
    scopes: Annotated[
        str, typer.Option(help=f"Comma-separated scopes from: {', '.join(USER_SCOPES)}.")
    ] = "live:read",
    conversation: Annotated[
        list[str] | None, typer.Option(help="A conversation the token may follow (repeat).")
    ] = None,
    ttl: Annotated[
        int, typer.Option(help=f"Seconds it is valid, at most {TOKEN_MAX_SECONDS}.")
    ] = 3600,
    name: Annotated[str, typer.Option(help="A label for the token.")] = "",
) -> None:
    """Mint a user token; the token is printed as the last line."""
    try:
        conversations = [UUID(c) for c in conversation or []]
    except ValueError:
        fail(f"not a conversation id among {conversation}", 2)
    wanted = [s.strip() for s in scopes.split(",") if s.strip()]
    grant = TokenGrant(user, wanted, conversations, [], name, ttl)
    with container() as c:
        minted, _ = c.portal.call(c.tokens.mint, cli_context(tenant, "token.mint"), grant)
    expires = datetime.fromtimestamp(minted.expires_at, UTC).isoformat()
    out.print(f"user:     {minted.user_id}", highlight=False)
    out.print(f"token id: {minted.token_id}", highlight=False)
    out.print(f"expires:  {expires}", highlight=False)
    print(minted.token)


@tokens.command("rotate-key")
def tokens_rotate_key(
    tenant: Annotated[str, typer.Option(help="The tenant whose key to rotate.")],
    now: Annotated[
        bool, typer.Option("--now", help="Refuse the tokens of the earlier keys at once.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Sign the tenant's user tokens with a new key; the earlier keys verify their tokens
    until these expire (at most a day), or no longer with --now."""
    with container() as c:
        _, rotation = c.portal.call(
            c.tokens.rotate, cli_context(tenant, "token.rotate_key"), "now" if now else "at_expiry"
        )
    until = datetime.fromtimestamp(rotation.previous_until, UTC).isoformat()
    if as_json:
        print(json.dumps({"tenant": tenant, "version": rotation.version, "previous_until": until}))
    else:
        out.print(f"{tenant}: signing with key {rotation.version}", highlight=False)
        out.print(f"earlier keys verify until {until}", highlight=False)


@users.command("revoke-tokens")
def users_revoke_tokens(
    user: Annotated[str, typer.Argument(help="The user id.")],
    tenant: Annotated[str, typer.Option(help="The user's tenant.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Refuse every token of the user issued until now, on every API process."""
    with container() as c:
        _, before = c.portal.call(c.tokens.revoke, cli_context(tenant, "token.revoke"), user)
    revoked_before = datetime.fromtimestamp(before, UTC).isoformat()
    if as_json:
        print(json.dumps({"user_id": user, "tenant": tenant, "revoked_before": revoked_before}))
    else:
        out.print(f"revoked: every token of {user} issued before {revoked_before}", highlight=False)


def notify(
    tenant: Annotated[str, typer.Option(help="The user's tenant.")],
    user: Annotated[str, typer.Option(help="The user id.")],
    title: Annotated[str, typer.Option(help="What the user sees first.")],
    kind: Annotated[str, typer.Option(help="What it is about, e.g. mention.")] = "notice",
    body: Annotated[str, typer.Option(help="More text.")] = "",
    priority: Annotated[str, typer.Option(help=f"One of {', '.join(PRIORITIES)}.")] = "normal",
) -> None:
    """Send a personal notification to one user (live to the user's tokens, and listed)."""
    with container() as c:
        result, notification_id = c.portal.call(
            c.notifications.send,
            cli_context(tenant, "notification.send"),
            user,
            Notice(kind, title, body, {}, priority),
        )
    out.print(f"sent: {notification_id} at position {result.position}", highlight=False)
