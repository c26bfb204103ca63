"""The series endpoint over a store of small row groups, and across a new store version."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import polars as pl
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from service_fleet import OBJECTS, SAMPLES, SERIES, STEP, T0, bearer, samples

from floodmark.domain import is_attack
from floodmark.io.read_result import ReadResult
from floodmark.registry import open_registry
from floodmark.registry.keys import create_key
from floodmark.service import create_app
from floodmark.service.queries import downsample
from floodmark.store import ingest, open_store

#: Rows per row group: a series' rows start and end inside row groups and span several.
ROW_GROUP_ROWS = 7


@contextmanager
def serve(store_dir, db) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A client of an app over ``store_dir``, and a viewer's header."""
    with open_registry(db) as registry:
        key = create_key(registry, name="viewer", role="viewer", by="setup")[1]
        with TestClient(create_app(store_dir, registry, session_secret="s")) as http:
            yield http, bearer(key)


@pytest.fixture(scope="module")
def small_groups(tmp_path_factory):
    root = tmp_path_factory.mktemp("series")
    ingest(root / "store", ReadResult(samples=samples()), row_group_rows=ROW_GROUP_ROWS)
    with serve(root / "store", str(root / "registry.db")) as served:
        yield served


def expected(store_dir, key, start, end, max_points) -> pl.DataFrame:
    """What the endpoint answers, from the store's own (Polars) read of the series."""
    frame = (
        open_store(store_dir).read_series(*key).filter(pl.col("timestamp").is_between(start, end))
    )
    frame = frame.select("timestamp", "passed", "blocked", attack=is_attack())
    return downsample(frame, max_points)


def as_frame(body: dict) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "timestamp": [dt.datetime.fromisoformat(t) for t in body["timestamp"]],
            **{name: body[name] for name in ("passed", "blocked", "attack")},
        },
        schema_overrides={"timestamp": pl.Datetime("us", "UTC")},
    )


@settings(max_examples=40, deadline=None)
@given(
    pid=st.sampled_from(list(OBJECTS)),
    series=st.sampled_from(SERIES),
    window=st.tuples(st.integers(-5, SAMPLES + 5), st.integers(-5, SAMPLES + 5)),
    max_points=st.sampled_from([2, 9, 100, SAMPLES, 100_000]),
)
def test_series_read_by_row_groups_is_the_stores_read(
    small_groups, pid, series, window, max_points
):
    http, viewer = small_groups
    start, end = (T0 + i * STEP for i in sorted(window))
    body = http.get(
        f"/api/v1/objects/{pid}/series/{series[0]}/{series[1]}",
        params={"start": start.isoformat(), "end": end.isoformat(), "max_points": max_points},
        headers=viewer,
    ).json()
    store_dir = http.app.state.fleet.store_dir
    want = expected(store_dir, (pid, *series), start, end, max_points)
    assert (
        body["samples"]
        == open_store(store_dir)
        .read_series(pid, *series)
        .filter(pl.col("timestamp").is_between(start, end))
        .height
    )
    assert body["downsampled"] == (body["samples"] > max_points)
    assert as_frame(body).equals(want)


def test_a_new_store_version_is_read_at_once(tmp_path):
    store_dir = tmp_path / "store"
    ingest(store_dir, ReadResult(samples=samples()), row_group_rows=ROW_GROUP_ROWS)
    with serve(store_dir, str(tmp_path / "registry.db")) as (http, viewer):
        path = "/api/v1/objects/bb02/series/PT_UDP/BW"
        before = http.get(path, headers=viewer).json()
        assert before["samples"] == SAMPLES
        later = samples().filter(prediction_id="bb02", vector="PT_UDP", metric="BW")
        later = later.with_columns(pl.col("timestamp") + SAMPLES * STEP, passed=pl.lit(7.0))
        ingest(store_dir, ReadResult(samples=later), row_group_rows=ROW_GROUP_ROWS)
        after = http.get(path, headers=viewer).json()
        assert after["samples"] == 2 * SAMPLES
        assert after["passed"][:SAMPLES] == before["passed"]
        assert after["passed"][SAMPLES:] == [7.0] * SAMPLES
