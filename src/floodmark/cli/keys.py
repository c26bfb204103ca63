"""``floodmark keys``: the API keys of ``floodmark serve`` (create, list, revoke)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from floodmark.cli.output import console, print_frame
from floodmark.cli.registry_common import ByOption, DbOption, open_db, who

HELP = """Manage the keys that `floodmark serve` accepts (API and web console).

Roles: viewer reads; reviewer also approves sets and overrides thresholds; admin
also manages keys. A key is sent as `Authorization: Bearer KEY` or typed into the
console's login page. Only a hash of each key is stored: `create` prints the key
once, keep it.

Examples:

  floodmark keys create --db floodmark.db --name alice --role reviewer

  floodmark keys list --db floodmark.db

  floodmark keys revoke --db floodmark.db 3
"""

keys_app = typer.Typer(help=HELP, no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="Who or what uses the key (audited).")],
    role: Annotated[str, typer.Option("--role", help="viewer, reviewer or admin.")],
    db: DbOption = None,
    by: ByOption = None,
) -> None:
    """Create a key and print it alone on standard output (the only time it is shown)."""
    from floodmark.registry.keys import create_key
    from floodmark.registry.models import ROLES

    if role not in ROLES:
        raise typer.BadParameter(f"choose from {', '.join(ROLES)}", param_hint="--role")
    with open_db(db) as registry:
        key, secret = create_key(registry, name=name, role=role, by=who(by))
    # The key alone on standard output, so a script can capture it.
    status = Console(stderr=True, highlight=False, soft_wrap=True)
    status.print(f"key {key.id} ({key.name}, {key.role}); it is shown only now:")
    typer.echo(secret)


@keys_app.command("list")
def list_(db: DbOption = None) -> None:
    """List the keys: id, name, role, first characters, created, revoked."""
    import polars as pl

    from floodmark.registry.keys import list_keys

    with open_db(db, create=False) as registry:
        table = list_keys(registry)
    when = "%Y-%m-%d %H:%M"
    print_frame(
        table.with_columns(pl.col("created", "revoked").dt.strftime(when)),
        title="keys (times UTC)",
    )


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[int, typer.Argument(metavar="KEY_ID", help="The key's id (keys list).")],
    db: DbOption = None,
    by: ByOption = None,
) -> None:
    """Revoke a key: the server refuses it from the next request on."""
    from floodmark.registry.keys import revoke_key

    with open_db(db, create=False) as registry:
        changed = revoke_key(registry, key_id, by=who(by))
    console.print(f"key {key_id} revoked" if changed else f"key {key_id} was revoked already")
