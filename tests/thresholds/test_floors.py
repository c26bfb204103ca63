"""Floors: lookup order, files, validation, learning from labels, applying them."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from floodmark.errors import FloodmarkError, SchemaError
from floodmark.schema import LEVELS
from floodmark.thresholds import Floors, floor_thresholds
from floodmark.thresholds.floors import DEFAULT_FLOOR, apply_floors


def test_lookup_prefers_the_most_specific_entry():
    floors = Floors.from_mapping(
        {
            ("PT_SYN", "PPS"): (1, 2, 3, 4),
            ("PT_SYN", "*"): (5, 6, 7, 8),
            ("*", "BW"): (9, 10, 11, 12),
        },
        base=Floors.default(),
    )
    assert floors.lookup("PT_SYN", "PPS") == (1, 2, 3, 4)
    assert floors.lookup("PT_SYN", "BW") == (5, 6, 7, 8)
    assert floors.lookup("PT_UDP", "BW") == (9, 10, 11, 12)
    assert floors.lookup("PT_UDP", "PPS") == DEFAULT_FLOOR
    keys = pl.DataFrame({"vector": ["PT_SYN", "PT_UDP"], "metric": ["PPS", "PPS"]})
    np.testing.assert_array_equal(floors.for_series(keys), [(1, 2, 3, 4), DEFAULT_FLOOR])


@pytest.mark.parametrize("suffix", [".csv", ".json", ".parquet"])
def test_file_round_trip_merges_over_defaults(tmp_path, suffix):
    path = tmp_path / f"floors{suffix}"
    Floors.from_mapping({("PT_NTP", "BW"): (1, 2, 2, 9)}).write(path)
    floors = Floors.from_file(path)
    assert floors.lookup("PT_NTP", "BW") == (1, 2, 2, 9)
    assert floors.lookup("PT_NTP", "PPS") == DEFAULT_FLOOR
    assert Floors.from_records(floors.to_records()) == floors


def test_bad_floor_rows_name_the_file_and_row(tmp_path):
    path = tmp_path / "floors.csv"
    path.write_text("vector,metric,ss,sc,nw,rl\nPT_SYN,PPS,1,2,3,4\nPT_UDP,PPS,5,4,3,2\n")
    with pytest.raises(FloodmarkError, match="ss <= sc <= nw <= rl") as info:
        Floors.from_file(path)
    assert info.value.file == str(path) and info.value.row == 1
    path.write_text("vector,metric,ss,sc,nw,rl\nPT_SYN,PPS,-1,2,3,4\n")
    with pytest.raises(FloodmarkError, match="non-negative"):
        Floors.from_file(path)
    path.write_text("vector,metric,ss,sc\nPT_SYN,PPS,1,2\n")
    with pytest.raises(SchemaError, match="lacks columns"):
        Floors.from_file(path)


def test_floors_learned_from_labels_are_a_low_quantile_per_vector_metric():
    rng = np.random.default_rng(0)
    n = 200
    ss = rng.uniform(1, 100, n)
    labels = pl.DataFrame(
        {
            "vector": ["PT_SYN"] * n,
            "metric": ["PPS"] * n,
            "ip_ss": ss,
            "ip_sc": ss * 2,
            "ip_nw": ss * 3,
            "ip_rl": ss * 4,
        }
    ).vstack(
        pl.DataFrame(  # too few to get their own entry: use the metric-wide one
            {"vector": ["PT_NTP"] * 3, "metric": ["PPS"] * 3, "ip_ss": [0.0] * 3}
            | {c: [1.0] * 3 for c in ("ip_sc", "ip_nw", "ip_rl")}
        )
    )
    floors = Floors.from_labels(labels, columns=("ip_ss", "ip_sc", "ip_nw", "ip_rl"), quantile=0.05)
    q = np.quantile(ss, 0.05)
    np.testing.assert_allclose(floors.lookup("PT_SYN", "PPS"), [q, 2 * q, 3 * q, 4 * q])
    np.testing.assert_allclose(floors.lookup("PT_NTP", "PPS"), [q, 2 * q, 3 * q, 4 * q])
    assert floors.lookup("PT_NTP", "BW") == floors.lookup("*", "*")


def test_apply_floors_raises_values_and_keeps_order():
    values = np.array([[0.0, 5.0, 5.0, 6.0], [np.nan, 1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0]])
    minima = np.array([[1.0, 1.0, 10.0, 10.0], [0.5, 0.5, 0.5, 0.5], [0.0, 0.0, 0.0, 0.0]])
    final, floored = apply_floors(values, minima)
    np.testing.assert_array_equal(final[0], [1, 5, 10, 10])
    np.testing.assert_array_equal(final[1], [0.5, 1, 2, 3])
    np.testing.assert_array_equal(final[2], values[2])
    assert floored.tolist() == [
        [True, False, True, True],
        [True, False, False, False],
        [False, False, False, False],
    ]


def test_floor_thresholds_reapplies_a_table():
    table = pl.DataFrame(
        {"prediction_id": ["a"], "vector": ["PT_SYN"], "metric": ["PPS"]}
        | {lv: [0.01 * (i + 1)] for i, lv in enumerate(LEVELS)}
    )
    out = floor_thresholds(table, Floors.from_mapping({("PT_SYN", "PPS"): (1, 1, 1, 50)}))
    assert out.select(LEVELS).row(0) == (1.0, 1.0, 1.0, 50.0)
