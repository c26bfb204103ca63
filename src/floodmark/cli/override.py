"""``floodmark override``: an expert sets one level of one series of a set."""

from __future__ import annotations

from typing import Annotated

import typer

from floodmark.cli.output import console
from floodmark.cli.registry_common import DbOption, open_db

HELP = """Set one level of one series of SET (an id, "approved" or "latest") to VALUE.

The levels must stay ordered ss <= sc <= nw <= rl (counting earlier overrides); a
value that would break the order is refused and nothing is written. The latest
override of a level wins; `diff` and exports read the set with its overrides, and
its basis says who set the value and why. Audited with the value before and after.

Example: floodmark override --db floodmark.db approved --object a1 --vector PT_TCP
--metric PPS --level nw --value 250000 --by alice --reason "seasonal sale"
"""


def register(app: typer.Typer) -> None:
    app.command("override", help=HELP)(override)


def override(
    set_ref: Annotated[
        str, typer.Argument(metavar="SET", help="The set's id, approved or latest.")
    ],
    object_id: Annotated[str, typer.Option("--object", help="The object's prediction_id.")],
    vector: Annotated[str, typer.Option("--vector", help="Vector, e.g. PT_TCP.")],
    metric: Annotated[str, typer.Option("--metric", help="PPS or BW.")],
    level: Annotated[str, typer.Option("--level", help="ss, sc, nw or rl.")],
    value: Annotated[float, typer.Option("--value", help="The new threshold.")],
    by: Annotated[str, typer.Option("--by", help="Who decides (the audit log keeps it).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (required).")],
    db: DbOption = None,
) -> None:
    from floodmark.registry import override_threshold

    with open_db(db, create=False) as registry:
        result = override_threshold(
            registry,
            set_ref,
            prediction_id=object_id,
            vector=vector,
            metric=metric,
            level=level,
            value=value,
            by=by,
            reason=reason,
        )
    console.print(
        f"set {result.set_id} {result.series} {result.level}: "
        f"{result.before:.6g} -> {result.after:.6g} by {by}"
    )
