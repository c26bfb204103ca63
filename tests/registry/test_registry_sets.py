"""Publishing sets, listing them and reading their thresholds back."""

from __future__ import annotations

import threading

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from registry_builders import BASE, thresholds

from floodmark.errors import SchemaError
from floodmark.io.atomic import write_table
from floodmark.registry import (
    RegistryError,
    audit_log,
    effective_thresholds,
    list_sets,
    open_registry,
    publish_file,
    publish_thresholds,
)


def test_published_thresholds_read_back_exactly(db_url):
    table = BASE.with_columns(
        expected_fa_per_day_ss=pl.Series([0.14, None, 1 / 3]),
        fallback=pl.Series([None, "rule-max: short (2 days < 4)", None]),
        ss=pl.Series([100.0, 1e6, 0.1 + 0.2]),  # a float that needs every digit
    )
    with open_registry(db_url) as registry:
        published = publish_thresholds(registry, table, source="t.csv", by="alice")
        assert published.created and published.series == 3
        back = effective_thresholds(registry, published.set_id)
    assert_frame_equal(back, table.sort("prediction_id", "vector", "metric"))


def test_the_same_file_twice_creates_nothing_new(db_url, tmp_path):
    csv = write_table(BASE, tmp_path / "thresholds.csv")
    parquet = write_table(BASE, tmp_path / "thresholds.parquet")
    with open_registry(db_url) as registry:
        first = publish_file(registry, csv, by="alice", note="week 45")
        audit_rows = audit_log(registry).height
        again = publish_file(registry, csv, by="alice")
        same_content = publish_file(registry, parquet, by="bob")
        other = publish_thresholds(
            registry, BASE.with_columns(rl=pl.col("rl") * 2), source="x", by="alice"
        )
        sets = list_sets(registry)
        assert audit_log(registry).height == audit_rows + 1  # only the second set
    assert first.created and not again.created and not same_content.created
    assert again.set_id == same_content.set_id == first.set_id
    assert other.created and other.set_id != first.set_id
    assert sets.select("id", "method", "series", "state", "source", "note").rows() == [
        (first.set_id, "rule-max", 3, "draft", "thresholds.csv", "week 45"),
        (other.set_id, "rule-max", 3, "draft", "x", None),
    ]


def test_a_publish_is_audited(db_url):
    with open_registry(db_url) as registry:
        published = publish_thresholds(registry, BASE, source="t.csv", by="alice", note="n")
        log = audit_log(registry)
    assert log.select("who", "action", "what").rows() == [
        ("alice", "publish", f"set {published.set_id}")
    ]
    assert log["before"][0] is None
    assert '"series":3' in log["after"][0] and '"state":"draft"' in log["after"][0]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (BASE.drop("nw"), "lack column"),
        (BASE.clear(), "empty"),
        (
            BASE.with_columns(nw=pl.Series([200.0, 1e6, 20.0])),
            "a1/PT_TOTAL/BW: levels are not ordered",
        ),
        (
            BASE.with_columns(ss=pl.Series([-1.0, 1e6, 10.0])),
            "a1/PT_TCP/PPS: levels must be finite and >= 0",
        ),
        (BASE.with_columns(ss=pl.Series([None, 1e6, 10.0])), "finite and >= 0"),
        (pl.concat([BASE, BASE.head(1)]), "a1/PT_TCP/PPS: 2 rows repeat a series"),
        (BASE.with_columns(vector=pl.Series(["PT_TCP", "", "PT_UDP"])), "empty prediction_id"),
    ],
)
def test_a_broken_table_is_refused_and_nothing_is_written(tmp_path, table, message):
    with open_registry(tmp_path / "r.db") as registry:
        with pytest.raises(SchemaError, match=message):
            publish_thresholds(registry, table, source="bad.csv", by="alice")
        assert list_sets(registry).height == 0 and audit_log(registry).height == 0


def test_a_set_is_named_by_id_or_approved(tmp_path):
    with open_registry(tmp_path / "r.db") as registry:
        publish_thresholds(registry, BASE, source="t.csv", by="alice")
        with pytest.raises(RegistryError, match="no set is approved yet"):
            effective_thresholds(registry, "approved")
        with pytest.raises(RegistryError, match="no set 9"):
            effective_thresholds(registry, 9)
        with pytest.raises(RegistryError, match="not a set id"):
            effective_thresholds(registry, "newest")
        assert effective_thresholds(registry, "1").height == 3
        publish_thresholds(registry, BASE.head(1), source="u.csv", by="alice")
        assert effective_thresholds(registry, "latest").height == 1


def test_latest_needs_a_set(tmp_path):
    with (
        open_registry(tmp_path / "r.db") as registry,
        pytest.raises(RegistryError, match="no set yet"),
    ):
        effective_thresholds(registry, "latest")


def test_a_table_without_optional_columns_is_published(tmp_path):
    bare = thresholds(("c3", "PT_ICMP", "PPS", 1.0, 1.0, 2.0, 2.0)).select(
        "prediction_id", "vector", "metric", "ss", "sc", "nw", "rl"
    )
    with open_registry(tmp_path / "r.db") as registry:
        published = publish_thresholds(registry, bare, source="bare.csv", by="alice")
        back = effective_thresholds(registry, published.set_id)
    assert back.row(0, named=True)["method"] == "given"
    assert back["basis"].to_list() == [None]


def test_racing_publishes_of_the_same_table_make_one_set(db_url):
    open_registry(db_url).close()
    barrier, results = threading.Barrier(3), []

    def publish() -> None:
        with open_registry(db_url) as own:
            barrier.wait()
            results.append(publish_thresholds(own, BASE, source="t.csv", by="alice"))

    threads = [threading.Thread(target=publish) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with open_registry(db_url) as registry:
        assert list_sets(registry).height == 1
        assert audit_log(registry).height == 1
    assert len(results) == 3 and {r.set_id for r in results} == {1}
    assert sorted(r.created for r in results) == [False, False, True]
