"""`chronicle keys`: create, rotate, list and revoke API keys.

A key's secret is printed once, when it is issued; a listing never shows one.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import typer
from rich.table import Table

from api.cli.common import cli_context, container, fail, out, settings_from_env
from domain.identity import SCOPES

if TYPE_CHECKING:
    from application.identity import IssuedKey

group = typer.Typer(
    help="Create, list and revoke API keys; rotate the master key.", no_args_is_help=True
)


@group.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="Tenant name; created if new.")],
    scopes: Annotated[
        str, typer.Option(help=f"Comma-separated scopes from: {', '.join(SCOPES)}.")
    ] = "commands:write,read,live:read",
    name: Annotated[str, typer.Option(help="A label for the key.")] = "cli",
    rate_limit: Annotated[
        int | None, typer.Option(help="Requests per minute (default: the server's).")
    ] = None,
) -> None:
    """Issue a key; its secret is printed once, as the last line."""
    wanted = [s.strip() for s in scopes.split(",") if s.strip()]
    with container() as c:
        context = cli_context(tenant, "keys.create")
        issued = c.portal.call(c.identity.issue_key, context, tenant, name, wanted, rate_limit)
    _print_issued(issued)


@group.command("rotate")
def keys_rotate(
    key_id: Annotated[str, typer.Argument(help="The key id from `keys list`.")],
) -> None:
    """Issue a successor with the same tenant, name, scopes and limit. The old key stays
    valid until you revoke it, so clients can switch over first."""
    parsed = _key_id(key_id)
    with container() as c:
        key = c.identity.find_key(parsed)
        issued = c.portal.call(
            c.identity.rotate_key, cli_context(key.tenant_id, "keys.rotate"), parsed
        )
    out.print(f"rotated: {parsed} (still valid until revoked)", highlight=False)
    _print_issued(issued)


def _key_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        fail(f"not a key id: {text!r}", 2)


def _print_issued(issued: IssuedKey) -> None:
    out.print(f"key id:  {issued.key_id}", highlight=False)
    out.print(f"tenant:  {issued.tenant_id}", highlight=False)
    out.print(f"scopes:  {','.join(issued.scopes)}", highlight=False)
    out.print("secret (shown once):", highlight=False)
    print(issued.token)


@group.command("list")
def keys_list(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List keys (never their secrets)."""
    with container() as c:
        keys = c.identity.list_keys(tenant)
    if as_json:
        rows = [
            {
                "key_id": str(k.key_id),
                "tenant": k.tenant_id,
                "name": k.name,
                "scopes": list(k.scopes),
                "revoked": k.revoked,
                "created_at": k.created_at,
                "rotated_from": k.rotated_from,
            }
            for k in keys
        ]
        print(json.dumps(rows, indent=2))
        return
    table = Table("key id", "tenant", "name", "scopes", "state", "created")
    for k in keys:
        state = "[red]revoked[/red]" if k.revoked else "[green]active[/green]"
        table.add_row(str(k.key_id), k.tenant_id, k.name, ",".join(k.scopes), state, k.created_at)
    out.print(table)


@group.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id from `keys list`.")],
    reason: Annotated[str, typer.Option(help="Why, for the audit trail.")] = "",
) -> None:
    """Revoke a key; every API process refuses it within a second."""
    parsed = _key_id(key_id)
    with container() as c:
        key = c.identity.find_key(parsed)
        c.portal.call(
            c.identity.revoke_key, cli_context(key.tenant_id, "keys.revoke"), parsed, reason
        )
    out.print(f"revoked {parsed}", highlight=False)


@group.command("rotate-master")
def keys_rotate_master() -> None:
    """Re-wrap every data subject's key with a new master key, read from
    CHRONICLE_NEW_MASTER_KEY (or, for `up`'s development key, made and kept in the data
    directory). Stop every other Chronicle process first; start them with the new key."""
    from infrastructure.runtime import servers_for
    from infrastructure.settings import MASTER_KEY_FILE
    from infrastructure.subject_keys import new_master_key, parse_master_key, rotate_master

    settings = settings_from_env()
    old = parse_master_key(settings.master_key)
    given = os.environ.get("CHRONICLE_NEW_MASTER_KEY", "").strip()
    kept = settings.data_dir / MASTER_KEY_FILE
    if not given and (os.environ.get("CHRONICLE_MASTER_KEY") or not kept.exists()):
        fail("set CHRONICLE_NEW_MASTER_KEY to the new master key (openssl rand -base64 32)", 2)
    text = given or new_master_key()
    new = parse_master_key(text)
    pending = kept.with_suffix(".new")
    if not given:  # written before the database changes, so the new key is never lost
        pending.touch(0o600)
        pending.write_text(text + "\n")
    with servers_for(settings) as resolved:
        assert resolved.database_url
        count = rotate_master(resolved.database_url, old, new)
    if not given:
        pending.replace(kept)
        out.print(f"re-wrapped {count} data keys; the new master key is in {kept}")
    else:
        out.print(
            f"re-wrapped {count} data keys; start Chronicle with the new CHRONICLE_MASTER_KEY"
        )
