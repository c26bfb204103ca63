"""``floodmark train``: learn the ``model`` method from the experts' thresholds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from floodmark.cli.options import FeaturesFile, StoreDir
from floodmark.cli.output import console, print_frame
from floodmark.cli.params import parse_params

HELP = (
    "Train the `model` threshold method on expert labels and save it.\n\n"
    "Reads the features table (from `floodmark features`), joins the store catalog's expert "
    "labels (ip_ss..ip_rl, or range_ss..range_rl with --target range) by prediction_id, "
    "vector and metric, and fits LightGBM gradient-boosted trees on the log scale: one "
    "booster for ss and three for the increments to sc, nw and rl, so ss <= sc <= nw <= rl "
    "always holds.\n\n"
    "Quality is measured by cross-validation grouped by prediction_id (no object in both "
    "train and test) and printed per level: mdape is the median absolute percentage error, "
    "within_25pct the share of series within 25 % of the expert; the baseline columns score "
    "the median label per vector/metric.\n\n"
    "The model directory holds LightGBM text models and metadata.json (features, library "
    "versions, CV scores, training-data sha256, learned floors); no pickle.\n\n"
    "Examples:\n\n"
    "floodmark train --store fleet-store --features features.parquet --out model/\n\n"
    "floodmark train --store fleet-store --features features.parquet --out model-range/ "
    "--target range --folds 10 --seed 3"
)


def register(app: typer.Typer) -> None:
    app.command("train", help=HELP)(train)


def train(
    store: StoreDir,
    features: FeaturesFile,
    out: Annotated[
        Path, typer.Option("--out", help="Model directory to write (created if needed).")
    ],
    folds: Annotated[
        int,
        typer.Option(
            "--folds", min=0, help="GroupKFold folds by prediction_id (0 skips cross-validation)."
        ),
    ] = 5,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the folds and LightGBM.")] = 0,
    target: Annotated[
        str, typer.Option("--target", help="Labels to learn: ip (ip_*) or range (range_*).")
    ] = "ip",
    params: Annotated[
        str | None,
        typer.Option(
            "--params",
            help='More model parameters as JSON, e.g. \'{"n_estimators": 500, "num_leaves": 15}\'.',
        ),
    ] = None,
) -> None:
    """Fit the model on features joined with the catalog's labels; print the CV table."""
    from floodmark.io.atomic import read_table
    from floodmark.store import open_store
    from floodmark.thresholds.model import TARGETS, train_model

    if folds == 1:
        raise typer.BadParameter("use 0 (no cross-validation) or at least 2", param_hint="--folds")
    if target not in TARGETS:
        raise typer.BadParameter(f"choose from {', '.join(TARGETS)}", param_hint="--target")
    extra = parse_params(params)
    for fixed in ("target", "folds", "seed"):
        if fixed in extra:
            raise typer.BadParameter(f"give {fixed} as --{fixed}", param_hint="--params")

    frame = read_table(features)
    params = {"target": target, "folds": folds, "seed": seed, **extra}
    model = train_model(frame, open_store(store).catalog(), out, **params)
    console.print(
        f"trained on {model.n_train_} labelled series of {frame.height} "
        f"({model.n_objects_} objects), {len(model.feature_columns_)} features"
    )
    if model.cv_scores_ is not None:
        print_frame(
            model.cv_scores_, title=f"{folds}-fold CV grouped by prediction_id", float_digits=3
        )
    console.print(f"wrote {out}")
