"""``floodmark export``: thresholds into the format a mitigation system reads."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from floodmark.cli.output import console, print_frame
from floodmark.cli.registry_common import DbOption, open_db

if TYPE_CHECKING:
    from floodmark.export import ExportSummary

HELP = (
    "Write thresholds for the mitigation system: one level of every object as a "
    "FastNetMon configuration, or every series and level as CSV / JSON.\n\n"
    "Formats:\n\n"
    "- fastnetmon: a complete FastNetMon Community 1.2 configuration (--base, its "
    "networks_list_path replaced; or a minimal "
    "built-in one) with one hostgroup per object and its <group>_threshold_* / "
    "<group>_ban_for_* keys, plus the networks list beside it (<stem>.networks_list). "
    "PT_TOTAL -> threshold_pps / threshold_mbps; PT_TCP, PT_UDP, PT_ICMP -> "
    "threshold_tcp_pps, threshold_tcp_mbps, ... IPv6 prefixes go to the networks list only: "
    "FastNetMon 1.2 drops a host group holding one.\n\n"
    "- fastnetmon-json: FastNetMon Advanced host groups (adds PT_SYN -> tcp_syn, "
    "PT_FRAG -> ip_fragments; IPv6 allowed).\n\n"
    "- csv, json: every series and all four levels with the object's name and networks "
    "(--level is not needed).\n\n"
    "BW values are in --bw-unit; FastNetMon formats convert them to Mbit/s and round every "
    "value up to a whole number. Series a format cannot express, objects without networks "
    "and prefixes kept out of host groups are printed and listed in <out>.unexported.csv.\n\n"
    "Thresholds come from the registry (--db, --set: default the approved set, overrides "
    "applied) or from a file (--thresholds); objects from --objects or the registry.\n\n"
    "Examples:\n\n"
    "floodmark export --db floodmark.db --set approved --level nw --format fastnetmon "
    "--bw-unit kbps --out fastnetmon/fastnetmon.conf\n\n"
    "floodmark export --thresholds thresholds.csv --objects objects.csv --level nw "
    "--format fastnetmon --bw-unit kbps --out fastnetmon.conf\n\n"
    "floodmark export --thresholds thresholds.parquet --objects objects.csv "
    "--format csv --out thresholds-export.csv"
)


def register(app: typer.Typer) -> None:
    app.command("export", help=HELP)(export)


def export(
    fmt: Annotated[
        str,
        typer.Option("--format", help="fastnetmon, fastnetmon-json, csv or json."),
    ],
    out: Annotated[Path, typer.Option("--out", help="File to write (atomically).")],
    db: DbOption = None,
    set_ref: Annotated[
        str | None,
        typer.Option(
            "--set",
            metavar="ID|approved|latest",
            help="The registry's set to export (default: approved).",
        ),
    ] = None,
    thresholds: Annotated[
        Path | None,
        typer.Option(
            "--thresholds",
            exists=True,
            dir_okay=False,
            help="Export this thresholds table (from `floodmark recommend`) instead of a set.",
        ),
    ] = None,
    objects: Annotated[
        Path | None,
        typer.Option(
            "--objects",
            exists=True,
            dir_okay=False,
            help="Objects CSV: prediction_id,name,networks (CIDRs separated by spaces); "
            "default: the registry's objects.",
        ),
    ] = None,
    level: Annotated[
        str | None,
        typer.Option("--level", help="ss, sc, nw or rl: the level a FastNetMon format exports."),
    ] = None,
    bw_unit: Annotated[
        str, typer.Option("--bw-unit", help="Unit of the BW thresholds: bps, kbps or mbps.")
    ] = "mbps",
    base: Annotated[
        Path | None,
        typer.Option(
            "--base",
            exists=True,
            dir_okay=False,
            help="FastNetMon configuration to build on (fastnetmon format only).",
        ),
    ] = None,
    networks_list_path: Annotated[
        str | None,
        typer.Option(
            "--networks-list-path",
            help="networks_list_path to write into the configuration, e.g. /etc/networks_list "
            "(default: the networks list written beside --out).",
        ),
    ] = None,
) -> None:
    """Read the thresholds and objects, export them, print what was left out."""
    from floodmark.export import BW_UNITS, EXPORT_FORMATS, export_thresholds
    from floodmark.io.atomic import read_table
    from floodmark.io.objects import read_objects_csv
    from floodmark.registry import APPROVED, effective_thresholds, read_objects
    from floodmark.schema import LEVELS

    if fmt not in EXPORT_FORMATS:
        raise typer.BadParameter(f"choose from {', '.join(EXPORT_FORMATS)}", param_hint="--format")
    if bw_unit not in BW_UNITS:
        raise typer.BadParameter(f"choose from {', '.join(BW_UNITS)}", param_hint="--bw-unit")
    if level is not None and level not in LEVELS:
        raise typer.BadParameter(f"choose from {', '.join(LEVELS)}", param_hint="--level")
    if fmt.startswith("fastnetmon") and level is None:
        raise typer.BadParameter(f"--format {fmt} exports one level", param_hint="--level")
    if fmt != "fastnetmon" and (base is not None or networks_list_path is not None):
        raise typer.BadParameter("only for --format fastnetmon", param_hint="--base")
    if thresholds is not None and set_ref is not None:
        raise typer.BadParameter("give a set or a thresholds file, not both", param_hint="--set")

    if thresholds is not None and objects is not None:
        table, protected = read_table(thresholds), read_objects_csv(objects)
    else:
        with open_db(db, create=False) as registry:
            table = (
                read_table(thresholds)
                if thresholds is not None
                else effective_thresholds(registry, set_ref or APPROVED)
            )
            protected = read_objects_csv(objects) if objects is not None else read_objects(registry)
    summary = export_thresholds(
        table,
        protected,
        level=level,
        fmt=fmt,
        out=out,
        bw_unit=bw_unit,
        base=base,
        networks_list_path=networks_list_path,
    )
    print_summary(summary)


def print_summary(summary: ExportSummary) -> None:
    """What was written, and every thing left out with its reason."""
    level = f" level {summary.level}" if summary.level else ""
    groups = f", {summary.groups.height} host groups" if summary.groups.height else ""
    console.print(f"{summary.format}{level}{groups}")
    if summary.rounded_up:
        console.print(f"{summary.rounded_up} values rounded up to whole numbers")
    if summary.unexported.height:
        reasons = summary.unexported.group_by("reason", maintain_order=True).len("series")
        print_frame(reasons, title=f"{summary.unexported.height} series not exported")
    if summary.objects_without_networks:
        names = ", ".join(summary.objects_without_networks[:10])
        more = len(summary.objects_without_networks) - 10
        console.print(
            f"{len(summary.objects_without_networks)} objects without networks: {names}"
            + (f" and {more} more" if more > 0 else "")
        )
    if summary.networks_left_out.height:
        import polars as pl

        left_out = summary.networks_left_out.group_by("reason", maintain_order=True).agg(
            networks=pl.len(), first=pl.col("network").first()
        )
        print_frame(left_out, title="networks left out of host groups")
    for path in summary.files:
        console.print(f"wrote {path}")
