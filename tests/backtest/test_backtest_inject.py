"""Synthetic attacks inserted into test days: where, how big, and scored as attacks."""

from __future__ import annotations

import polars as pl
import pytest

from floodmark.backtest.episodes import label_samples, score_thresholds
from floodmark.backtest.inject import InjectSpec, inject, score_injected
from floodmark.domain import with_series_ids
from floodmark.errors import FloodmarkError


def _parts(make_series):
    learn = make_series([10.0] * 100)  # p99 of normal traffic: 10
    test = with_series_ids(make_series([1.0] * 40))
    return learn, test


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ("plateau", [20.0, 20.0, 20.0, 20.0]),
        ("ramp", [5.0, 10.0, 15.0, 20.0]),
        ("pulse", [20.0, 20.0, 2.0, 2.0]),
    ],
)
def test_each_size_is_one_episode_of_its_shape_in_its_own_slice(make_series, shape, expected):
    learn, test = _parts(make_series)
    spec = InjectSpec(shape, 4, (2.0, 5.0), leak=0.0)
    out = inject(test, learn, spec)
    assert out.height == test.height
    first = out.filter(pl.col("inj_size") == 2.0)
    second = out.filter(pl.col("inj_size") == 5.0)
    assert first["blocked"].to_list() == expected  # 2 × p99 × the shape
    assert second["blocked"].to_list() == [2.5 * v for v in expected]
    # in the middle of each half of the test part, never overlapping
    assert first["timestamp"].max() < second["timestamp"].min()
    rows = out.with_row_index("i").filter(pl.col("inj_size").is_not_null())["i"].to_list()
    assert rows == [8, 9, 10, 11, 28, 29, 30, 31]


def test_injected_attacks_are_attacks_and_scored_by_size(make_series, make_thresholds):
    learn, test = _parts(make_series)
    out = inject(test, learn, InjectSpec("plateau", 3, (0.5, 3.0)))
    labelled = label_samples(out)
    assert labelled.filter(pl.col("attack"))["inj_size"].null_count() == 0
    thr = make_thresholds([("a", "PT_TCP", "PPS", "m", "ss", 20.0)])
    scores, _ = score_thresholds(labelled, thr)
    assert scores["attack_episodes"].to_list() == [2]
    by_size = score_injected(out, thr, InjectSpec("plateau", 3, (0.5, 3.0)), [1])
    hit = dict(zip(by_size["size"], by_size["detected"], strict=True))
    assert hit == {0.5: 0, 3.0: 1}  # 5 stays under the level, 30 crosses it


def test_a_spec_is_read_from_text_and_checked():
    assert InjectSpec.parse("ramp:6:0.5,1,2") == InjectSpec("ramp", 6, (0.5, 1.0, 2.0))
    for bad in ("ramp:6", "wave:6:1", "ramp:0:1", "ramp:6:-1", "ramp:x:1"):
        with pytest.raises(FloodmarkError, match="inject"):
            InjectSpec.parse(bad)


def test_a_spec_reads_plain_numbers_only_and_its_text_reads_back_the_same():
    for bad in ("ramp:1_0:1", "ramp:6:1_0", "ramp:\u0666:1", "ramp:6:\u0661"):
        with pytest.raises(FloodmarkError, match="inject"):
            InjectSpec.parse(bad)
    for spec in (
        InjectSpec("plateau", 6, (0.5, 0.500000001, 1e-7, 8.0)),
        InjectSpec("ramp", 3, (1 / 3, 2.0), repeat=4),
    ):
        assert InjectSpec.parse(spec.text()) == spec
    assert InjectSpec("plateau", 6, (0.5, 1.0, 2.0)).text() == "plateau:6:0.5,1,2"


def test_detection_by_size_is_kept_in_the_result_file(tmp_path):
    from floodmark.backtest import BacktestResult
    from floodmark.backtest.inject import summarise_injected

    counts = pl.DataFrame(
        {
            "method": ["m", "m", "m"],
            "min_duration": [1, 1, 1],
            "level": ["rl", "ss", "ss"],
            "size": [1.0, 1.0, 1.0],
            "episodes": [2, 2, 3],
            "detected": [1, 2, 3],
        }
    )
    table = summarise_injected(counts)
    assert table.select("level", "episodes", "detected", "detection_rate").rows() == [
        ("ss", 5, 5, 1.0),
        ("rl", 2, 1, 0.5),
    ]
    per_object = summarise_injected(
        counts.with_columns(prediction_id=pl.Series(["x", "y", "x"])), by_object=True
    )
    empty = pl.DataFrame(schema={"method": pl.String})
    result = BacktestResult(
        table=empty, per_series=empty, injected=table, injected_by_object=per_object
    )
    back = BacktestResult.from_json(result.to_json(tmp_path / "bt.json"))
    assert back.injected is not None and back.injected.equals(table)
    assert back.injected_by_object is not None and back.injected_by_object.equals(per_object)
    assert back.injected_by_object.select("prediction_id", "level", "detected").rows() == [
        ("x", "ss", 3),
        ("x", "rl", 1),
        ("y", "ss", 2),
    ]


def test_repeated_sizes_take_turns_through_the_test_part(make_series):
    learn, test = _parts(make_series)
    spec = InjectSpec.parse("plateau:2:2,5:2")
    assert (
        spec == InjectSpec("plateau", 2, (2.0, 5.0), repeat=2) and spec.text() == "plateau:2:2,5:2"
    )
    out = inject(test, learn, spec).with_row_index("i").filter(pl.col("inj_size").is_not_null())
    # four slices of 10 samples, an episode in the middle of each: 2, 5, 2, 5
    assert out["i"].to_list() == [4, 5, 14, 15, 24, 25, 34, 35]
    assert out["inj_size"].to_list() == [2.0, 2.0, 5.0, 5.0] * 2
    with pytest.raises(FloodmarkError, match="repeat"):
        InjectSpec.parse("plateau:2:2,5:0")
    with pytest.raises(FloodmarkError, match="inject"):
        InjectSpec.parse("plateau:2:2,5:2:2")


def test_detection_by_size_is_counted_per_object(make_series, make_thresholds):
    from floodmark.backtest.inject import summarise_injected

    learn = pl.concat([make_series([10.0] * 100, pid=p) for p in ("a", "b")])
    test = with_series_ids(pl.concat([make_series([1.0] * 40, pid=p) for p in ("a", "b")]))
    spec = InjectSpec("plateau", 3, (0.5, 3.0), repeat=2)
    out = inject(test, learn, spec)
    # object b's level is above every inserted attack, object a's catches the large ones
    thr = make_thresholds(
        [("a", "PT_TCP", "PPS", "m", "ss", 20.0), ("b", "PT_TCP", "PPS", "m", "ss", 1e9)]
    )
    counts = score_injected(out, thr, spec, [1])
    fleet = summarise_injected(counts)
    assert fleet.select("size", "episodes", "detected").rows() == [(0.5, 4, 0), (3.0, 4, 2)]
    per_object = summarise_injected(counts, by_object=True)
    assert per_object.select("prediction_id", "size", "episodes", "detection_rate").rows() == [
        ("a", 0.5, 2, 0.0),
        ("a", 3.0, 2, 1.0),
        ("b", 0.5, 2, 0.0),
        ("b", 3.0, 2, 0.0),
    ]


def test_a_repeat_larger_than_the_test_part_inserts_nothing(make_series):
    # more episodes than samples: no slice is long enough for one, and the spec is not
    # expanded into a list of every episode (10**12 of them did not fit in memory)
    learn, test = _parts(make_series)
    for repeat in (20, 10**12, 10**20):
        out = inject(test, learn, InjectSpec("plateau", 2, (2.0, 5.0), repeat=repeat))
        assert out.height == test.height
        assert out["inj_size"].null_count() == test.height
        assert out["blocked"].to_list() == test["blocked"].to_list()


def test_a_size_given_twice_counts_its_episodes_once(make_series, make_thresholds):
    from floodmark.backtest.inject import summarise_injected

    learn, test = _parts(make_series)
    spec = InjectSpec.parse("plateau:3:3,3")
    out = inject(test, learn, spec)
    assert out["inj_size"].drop_nulls().to_list() == [3.0] * 6  # two episodes of size 3
    thr = make_thresholds([("a", "PT_TCP", "PPS", "m", "ss", 20.0)])
    fleet = summarise_injected(score_injected(out, thr, spec, [1]))
    assert fleet.select("size", "episodes", "detected").rows() == [(3.0, 2, 2)]
