"""``floodmark objects``: the protected objects in the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from floodmark.cli.output import console
from floodmark.cli.registry_common import ByOption, DbOption, open_db, who

HELP = "Protected objects (prediction_id, name, networks) in the registry."

IMPORT_HELP = """Import objects from a CSV with the header prediction_id,name,networks.

networks holds IPv4 and IPv6 prefixes in CIDR notation separated by spaces (it may
be empty). Every prefix is validated; an invalid file imports nothing. Objects
already in the registry are updated, new ones added, and objects the file does not
name are kept. Every added or changed object is written to the audit log.

Example: floodmark objects import objects.csv --db floodmark.db
"""


def register(app: typer.Typer) -> None:
    group = typer.Typer(help=HELP, no_args_is_help=True)
    group.command("import", help=IMPORT_HELP)(import_objects)
    app.add_typer(group, name="objects")


def import_objects(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, metavar="FILE.csv", help="Objects CSV.")
    ],
    db: DbOption = None,
    by: ByOption = None,
) -> None:
    from floodmark.registry import import_objects_csv

    with open_db(db) as registry:
        result = import_objects_csv(registry, file, by=who(by))
    console.print(f"objects: {result.describe()}")
