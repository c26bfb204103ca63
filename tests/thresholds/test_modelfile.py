"""A saved model is read back only as save_model wrote it: anything else names the file."""

from __future__ import annotations

import os
import shutil

import orjson
import pytest
from threshold_data import labelled_features

from floodmark.errors import InputFormatError
from floodmark.thresholds import GBTModel

FAST = {"n_estimators": 20, "min_child_samples": 5}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m"
    GBTModel(folds=0, seed=1, **FAST).fit(labelled_features(n_objects=20, seed=2)).save(path)
    return path


@pytest.fixture
def model_dir(saved, tmp_path):
    copy = tmp_path / "models" / "m"
    shutil.copytree(saved, copy)
    return copy


def _edit(model_dir, change) -> None:
    path = model_dir / "metadata.json"
    meta = orjson.loads(path.read_bytes())
    change(meta)
    path.write_bytes(orjson.dumps(meta))


def _load_error(model_dir) -> str:
    with pytest.raises(InputFormatError) as info:
        GBTModel.load(model_dir)
    return str(info.value)


def test_the_saved_model_loads(model_dir):
    assert GBTModel.load(model_dir).is_fitted()


def test_unknown_parameter_names_the_metadata_file(model_dir):
    _edit(model_dir, lambda meta: meta["params"].update(learning_rat=0.1))
    message = _load_error(model_dir)
    assert (
        message
        == f"{model_dir / 'metadata.json'}: unknown model parameter(s) learning_rat in params"
    )


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda meta: meta.pop("boosters"), "model metadata lacks 'boosters'"),
        (lambda meta: meta["boosters"].pop("nw"), "model metadata lacks 'nw'"),
        (lambda meta: meta.update(params=[1, 2]), "model metadata is malformed"),
        (lambda meta: meta["boosters"]["ss"].update(file=7), "booster for ss has no file name"),
    ],
)
def test_malformed_metadata_names_the_file(model_dir, change, expected):
    _edit(model_dir, change)
    assert _load_error(model_dir).startswith(f"{model_dir / 'metadata.json'}: {expected}")


def test_booster_outside_the_model_directory_is_refused(model_dir):
    """A relative climb, an absolute path: load must not read files outside the model."""
    outside = model_dir.parent / "elsewhere.txt"
    shutil.copy(model_dir / "booster_ss.txt", outside)  # a valid booster, sha256 matching
    for name in ("../elsewhere.txt", str(outside), "sub/../../elsewhere.txt"):
        _edit(model_dir, lambda meta, name=name: meta["boosters"]["ss"].update(file=name))
        message = _load_error(model_dir)
        assert message == (
            f"{model_dir / 'metadata.json'}: booster for ss names {name!r}, "
            "outside the model directory"
        )


def test_booster_symlink_leading_outside_is_refused(model_dir):
    outside = model_dir.parent / "elsewhere.txt"
    shutil.move(model_dir / "booster_sc.txt", outside)
    os.symlink(outside, model_dir / "booster_sc.txt")
    assert "booster for sc names 'booster_sc.txt', outside the model directory" in _load_error(
        model_dir
    )


def test_booster_symlink_inside_the_directory_is_fine(model_dir):
    os.rename(model_dir / "booster_rl.txt", model_dir / "rl-real.txt")
    os.symlink("rl-real.txt", model_dir / "booster_rl.txt")
    assert GBTModel.load(model_dir).is_fitted()


def test_a_booster_that_is_not_a_model_names_the_booster(model_dir):
    import hashlib

    junk = b"not a model"
    (model_dir / "booster_nw.txt").write_bytes(junk)
    _edit(
        model_dir,
        lambda meta: meta["boosters"]["nw"].update(sha256=hashlib.sha256(junk).hexdigest()),
    )
    assert _load_error(model_dir).startswith(
        f"{model_dir / 'booster_nw.txt'}: not a LightGBM text model"
    )


def test_saving_where_a_file_is_names_the_model_directory(saved, tmp_path):
    from floodmark.errors import OutputError

    (tmp_path / "afile").write_text("x")
    model = GBTModel.load(saved)
    with pytest.raises(OutputError) as info:
        model.save(tmp_path / "afile" / "m")
    assert str(info.value).startswith(f"{tmp_path / 'afile' / 'm'}: cannot create the model")
