"""A trained ``GBTModel`` on disk: LightGBM text models and JSON metadata, never pickle.

Layout of the directory::

    booster_ss.txt   log1p(ss)                      (LightGBM text model)
    booster_sc.txt   log1p(sc) - log1p(ss)          (and so on for nw, rl)
    metadata.json    format, parameters, feature list, categorical codes, CV scores,
                     floors, training-data fingerprint, library versions, file hashes

Every file is written atomically and ``metadata.json`` last, so a directory with metadata
is complete; loading checks each booster against its recorded sha256.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path

import lightgbm as lgb
import orjson
import polars as pl

from floodmark.errors import FloodmarkError, InputFormatError, NotFittedError, OutputError
from floodmark.io.atomic import atomic_path, write_json
from floodmark.schema import LEVELS, METRICS, VECTORS
from floodmark.thresholds.floors import Floors

FORMAT = "floodmark-gbt"
FORMAT_VERSION = 1
METADATA = "metadata.json"
LIBRARIES = ("floodmark", "lightgbm", "numpy", "polars", "scikit-learn", "scipy")


def _booster_file(level: str) -> str:
    return f"booster_{level}.txt"


def _targets(labels: tuple[str, ...]) -> list[str]:
    out = [f"log1p({labels[0]})"]
    out += [f"log1p({b}) - log1p({a})" for a, b in zip(labels, labels[1:], strict=False)]
    return out


def save_model(model, directory: str | Path) -> Path:
    """Write a fitted ``GBTModel`` into ``directory`` (created if needed)."""
    if not model.is_fitted():
        raise NotFittedError("model is not fitted: nothing to save", file=directory)
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create the model directory: {exc.strerror}", file=directory
        ) from None
    boosters = {}
    for level, booster, target in zip(
        LEVELS, model.boosters_, _targets(model.label_columns()), strict=True
    ):
        text = booster.model_to_string().encode()
        name = _booster_file(level)
        with atomic_path(directory / name) as tmp:
            tmp.write_bytes(text)
        boosters[level] = {
            "file": name,
            "target": target,
            "sha256": hashlib.sha256(text).hexdigest(),
        }
    params = model.get_params()
    params["floors"] = None if params["floors"] is None else params["floors"].to_records()
    if params["feature_columns"] is not None:
        params["feature_columns"] = list(params["feature_columns"])
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "method": model.name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "params": params,
        "lightgbm_params": model.lgb_params(),
        "target": model.target,
        "label_columns": list(model.label_columns()),
        "feature_columns": list(model.feature_columns_),
        "categorical": {"vector": list(VECTORS), "metric": list(METRICS)},
        "boosters": boosters,
        "n_train": model.n_train_,
        "n_objects": model.n_objects_,
        "training_fingerprint_sha256": model.fingerprint_,
        "cv": None if model.cv_scores_ is None else model.cv_scores_.to_dicts(),
        "floors": model.floors_.to_records(),
        "libraries": {name: _version(name) for name in LIBRARIES},
    }
    write_json(meta, directory / METADATA)
    return directory


def load_model(directory: str | Path):
    """Read a directory written by ``save_model`` back into a fitted ``GBTModel``.

    Anything that does not match what ``save_model`` writes (a missing or mistyped
    key, an unknown parameter, a booster file outside the directory or altered since
    it was saved) is an ``InputFormatError`` naming the file.
    """
    directory = Path(directory)
    meta_path = directory / METADATA
    if not meta_path.is_file():
        raise FloodmarkError(f"not a saved model: {METADATA} is missing", file=directory)
    try:
        meta = orjson.loads(meta_path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InputFormatError(
            f"model metadata is not valid JSON ({exc})", file=meta_path
        ) from None
    if not isinstance(meta, dict):
        raise InputFormatError("model metadata is not a JSON object", file=meta_path)
    if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
        raise InputFormatError(
            f"unsupported model format {meta.get('format')!r} v{meta.get('format_version')!r}",
            file=meta_path,
        )
    try:
        return _from_metadata(meta, directory, meta_path)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # Hand-edited or truncated metadata: say which part, not a bare KeyError.
        what = f"lacks {exc}" if isinstance(exc, KeyError) else f"is malformed ({exc})"
        raise InputFormatError(f"model metadata {what}", file=meta_path) from None


def _from_metadata(meta: dict, directory: Path, meta_path: Path):
    from floodmark.thresholds.model import GBTModel

    if meta["categorical"] != {"vector": list(VECTORS), "metric": list(METRICS)}:
        raise InputFormatError(
            "model was trained with different vector/metric codes", file=meta_path
        )
    params = dict(meta["params"])
    unknown = sorted(set(params) - set(GBTModel().get_params()))
    if unknown:
        raise InputFormatError(
            f"unknown model parameter(s) {', '.join(unknown)} in params", file=meta_path
        )
    if params.get("floors") is not None:
        params["floors"] = Floors.from_records(params["floors"])
    model = GBTModel(**params)
    boosters = []
    for level in LEVELS:
        entry = meta["boosters"][level]
        path = _booster_path(directory, entry["file"], level, meta_path)
        text = path.read_bytes()
        if hashlib.sha256(text).hexdigest() != entry["sha256"]:
            raise InputFormatError("booster file does not match its recorded sha256", file=path)
        try:
            boosters.append(lgb.Booster(model_str=text.decode()))
        except (lgb.basic.LightGBMError, UnicodeDecodeError) as exc:
            raise InputFormatError(f"not a LightGBM text model ({exc})", file=path) from None
    model.boosters_ = tuple(boosters)
    model.feature_columns_ = tuple(meta["feature_columns"])
    model.n_train_ = meta["n_train"]
    model.n_objects_ = meta["n_objects"]
    model.fingerprint_ = meta["training_fingerprint_sha256"]
    model.cv_scores_ = None if meta["cv"] is None else pl.DataFrame(meta["cv"])
    model.cv_predictions_ = None  # not saved: the CV scores are the record
    model.floors_ = Floors.from_records(meta["floors"])
    model.metadata_ = meta
    return model


def _booster_path(directory: Path, name: object, level: str, meta_path: Path) -> Path:
    """The booster file ``name`` inside ``directory``; refused when it leads outside.

    ``save_model`` writes plain file names; a path that is absolute, climbs with
    ``..`` or goes through a symlink out of the directory could make ``load`` read
    any file on the machine, so it is an error.
    """
    if not isinstance(name, str) or not name:
        raise InputFormatError(f"booster for {level} has no file name", file=meta_path)
    root = directory.resolve()
    path = (directory / name).resolve()
    if not path.is_relative_to(root):
        raise InputFormatError(
            f"booster for {level} names {name!r}, outside the model directory", file=meta_path
        )
    if not path.is_file():
        raise InputFormatError(f"booster for {level} is missing", file=directory / name)
    return directory / name


def _version(name: str) -> str | None:
    try:
        return importlib_metadata.version(name)
    except importlib_metadata.PackageNotFoundError:
        return None
