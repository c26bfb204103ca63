"""Single-series CSV: every public trace as it is, plus the edge cases on small files."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from io_builders import T0

from floodmark.errors import InputFormatError, SchemaError, SeriesDefect
from floodmark.io import iter_series_csv, read_series_csv
from floodmark.schema import LONG_SCHEMA

# Every series CSV of the public traces, with the repeated timestamps it is known to have.
TRACES = {
    "nab-aws-network/ec2_network_in_257a54.csv": 0,
    "nab-aws-network/ec2_network_in_5abac7.csv": 11,
    "nab-aws-network/elb_request_count_8c0756.csv": 0,
    "nab-aws-network/iio_us-east-1_i-a2eb1cd9_NetworkIn.csv": 0,
    "cortez-isp-traffic/internet-traffic-data-in-bits-UK_hourly.csv": 0,
    "cortez-isp-traffic/internet-traffic-data-in-bits-fr-EU_hourly.csv": 0,
    "cortez-isp-traffic/internet-traffic-data-in-bits-fr_EU_5m.csv": 0,
    "cortez-isp-traffic/internet-traffic-data-in-bits-fr_EU_daily.csv": 0,
    "cortez-isp-traffic/internet-traffic-data-in-bits-fr_UK_5m.csv": 0,
    "cortez-isp-traffic/internet-traffic-data-in-bits-fr_UK_daily.csv": 0,
    "wc98-http-requests/wc98_workload_5min.csv": 0,
    "wc98-http-requests/wc98_workload_hour.csv": 0,
    "wc98-http-requests/wc98_workload_min.csv": 0,
    "cesnet-ts24-ip103/103.csv": 0,
}
# Not a series: the table that maps CESNET's id_time to times.
LOOKUPS = {"cesnet-ts24-ip103/times_1_hour.csv"}


def plain_count(path: Path, value_index: int) -> int:
    """Data lines whose value cell is not empty, counted with the csv module."""
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    return sum(1 for r in rows if r and len(r) > value_index and r[value_index].strip())


def test_the_list_covers_every_csv(shared_data):
    found = {p.relative_to(shared_data).as_posix() for p in shared_data.rglob("*.csv")}
    assert found == set(TRACES) | LOOKUPS


@pytest.mark.parametrize("name", sorted(TRACES))
def test_reads_every_public_trace_as_it_is(shared_data, name):
    path = shared_data / name
    result = read_series_csv(path)
    samples = result.samples
    assert result.quarantine.height == 0
    assert samples.schema == pl.Schema(LONG_SCHEMA)
    # 103.csv: value is n_bytes, the 4th column; elsewhere the 2nd.
    value_index = 3 if name.endswith("103.csv") else 1
    assert samples.height + result.repaired_duplicates == plain_count(path, value_index)
    assert result.repaired_duplicates == TRACES[name]
    ts = samples["timestamp"]
    assert ts.is_sorted() and ts.n_unique() == ts.len()
    assert samples["prediction_id"].unique().to_list() == [path.stem]
    assert samples.select(pl.col("vector", "metric").unique()).rows() == [("PT_TOTAL", "BW")]
    assert (samples["passed"] >= 0).all() and (samples["blocked"] == 0).all()
    assert result.series.height == 1


def test_lookup_table_is_not_a_series(shared_data):
    path = shared_data / "cesnet-ts24-ip103" / "times_1_hour.csv"
    with pytest.raises(SchemaError, match=r"times_1_hour\.csv.*value_column"):
        read_series_csv(path)


def test_cesnet_times_are_hourly_from_2023_10_09(shared_data):
    samples = read_series_csv(shared_data / "cesnet-ts24-ip103" / "103.csv").samples
    ts = samples["timestamp"]
    assert ts[0] == datetime(2023, 10, 9, tzinfo=UTC)
    assert ts[-1] == datetime(2024, 7, 14, 21, tzinfo=UTC)
    steps = ts.diff().drop_nulls().dt.total_seconds()
    assert (steps % 3600 == 0).all()
    assert (steps == 3600).mean() > 0.99
    # passed is n_bytes for BW, n_packets for PPS (first data row: id_time 0).
    assert samples["passed"][0] == 206437830
    pps = read_series_csv(shared_data / "cesnet-ts24-ip103" / "103.csv", metric="PPS").samples
    assert pps["passed"][0] == 393434


def test_cesnet_with_an_explicit_column_and_times_file(shared_data):
    folder = shared_data / "cesnet-ts24-ip103"
    result = read_series_csv(
        folder / "103.csv",
        value_column="n_flows",
        times_file=folder / "times_1_hour.csv",
        prediction_id="ip103",
        vector="PT_TCP",
        metric="PPS",
    )
    assert result.samples["passed"][0] == 3901
    assert result.series.row(0, named=True)["prediction_id"] == "ip103"


def test_cortez_trailing_commas_and_long_titles(shared_data):
    folder = shared_data / "cortez-isp-traffic"
    uk = read_series_csv(folder / "internet-traffic-data-in-bits-fr_UK_5m.csv").samples
    assert uk["passed"][0] == 4838.665
    assert uk["timestamp"][0] == datetime(2004, 11, 19, 9, 30, tzinfo=UTC)
    daily = read_series_csv(folder / "internet-traffic-data-in-bits-fr_EU_daily.csv").samples
    assert daily["passed"][0] == 1291380490453
    assert daily["timestamp"][1] == datetime(2005, 6, 8, tzinfo=UTC)


def test_nab_duplicates_keep_the_last_row(shared_data):
    path = shared_data / "nab-aws-network" / "ec2_network_in_5abac7.csv"
    with path.open(newline="") as fh:
        rows = [r for r in csv.reader(fh)][1:]
    last = [float(v) for t, v in rows if t == "2014-03-09 03:00:00"][-1]
    samples = read_series_csv(path).samples
    at = samples.filter(pl.col("timestamp") == datetime(2014, 3, 9, 3, tzinfo=UTC))
    assert at["passed"].to_list() == [last]


def write(tmp_path, text: str, name: str = "s.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_epoch_and_offset_times(tmp_path):
    epoch = write(tmp_path, f"ts,bytes\n{T0},1\n{T0 + 300}.0,2\n", "epoch.csv")
    assert read_series_csv(epoch).samples["timestamp"].dt.epoch("s").to_list() == [T0, T0 + 300]
    offset = write(tmp_path, "time,v\n2023-11-15T00:13:20+02:00,1\n", "offset.csv")
    assert read_series_csv(offset).samples["timestamp"].dt.epoch("s").to_list() == [T0]


@pytest.mark.parametrize(
    ("value", "reason"),
    [("-5", "negative_value"), ("nan", "nan_value"), ("inf", "infinite_value")],
)
def test_bad_values_quarantine_the_series(tmp_path, value, reason):
    path = write(tmp_path, f"timestamp,value\n2024-01-01 00:00,1\n2024-01-01 00:05,{value}\n")
    result = read_series_csv(path, prediction_id="obj")
    assert result.samples.height == 0
    q = result.quarantine.row(0, named=True)
    assert (q["reason"], q["row"], q["prediction_id"]) == (reason, 1, "obj")
    with pytest.raises(SeriesDefect, match=r"s\.csv, row 1, series obj/PT_TOTAL/BW: ") as info:
        read_series_csv(path, prediction_id="obj", errors="raise")
    assert info.value.reason == reason


@pytest.mark.parametrize(
    ("options", "reason"),
    [({"vector": "PT_HTTP"}, "unknown_vector"), ({"metric": "Mbps"}, "unknown_metric")],
)
def test_unknown_key_parts(tmp_path, options, reason):
    path = write(tmp_path, "timestamp,value\n2024-01-01 00:00,1\n")
    assert read_series_csv(path, **options).quarantine["reason"].to_list() == [reason]
    with pytest.raises(SeriesDefect, match="s.csv"):
        read_series_csv(path, errors="raise", **options)


def test_columns_by_name_and_errors(tmp_path):
    path = write(tmp_path, "host,when,a,b\nx,2024-01-01 00:00,1,2\nx,2024-01-01 00:05,3,4\n")
    got = read_series_csv(path, time_column="when", value_column="b").samples
    assert got["passed"].to_list() == [2.0, 4.0]
    with pytest.raises(SchemaError, match="'nope'"):
        read_series_csv(path, value_column="nope")
    with pytest.raises(InputFormatError, match=r"row 0, series s/PT_TOTAL/BW: column 'host'"):
        read_series_csv(path, errors="raise")  # first column taken as time, and it is not one
    bad = write(tmp_path, "timestamp,value\n2024-01-01 00:00,1\n2024-01-01 00:05,many\n", "b.csv")
    assert _quarantined(read_series_csv(bad)) == (
        "bad_number",
        1,
        "column 'value': 'many' is not a number",
    )
    with pytest.raises(InputFormatError, match=r"b\.csv, row 1, series b/PT_TOTAL/BW: .*'many'"):
        read_series_csv(bad, errors="raise")


def _quarantined(result) -> tuple:
    """(reason, row, detail) of the one quarantined series; nothing else is read."""
    assert result.samples.height == 0 and result.series.height == 0
    [q] = result.quarantine.to_dicts()
    return q["reason"], q["row"], q["detail"]


def test_gaps_and_bad_times_report_file_rows(tmp_path):
    path = write(tmp_path, "timestamp,value\n2024-01-01 00:00,\n2024-01-01 00:05,1\nsoon,2\n")
    assert _quarantined(read_series_csv(path)) == (
        "bad_time",
        2,
        "column 'timestamp': value cannot be read as a time ('soon')",
    )
    with pytest.raises(InputFormatError, match=r"s\.csv, row 2, series s/PT_TOTAL/BW: .*'soon'"):
        read_series_csv(path, errors="raise")


def test_id_time_needs_exactly_one_times_file(tmp_path):
    path = write(tmp_path, "id_time,n_bytes\n0,5\n1,6\n")
    with pytest.raises(InputFormatError, match="no times_"):
        read_series_csv(path)
    write(tmp_path, "id_time,time\n0,2024-01-01 00:00:00+00:00\n", "times_1_hour.csv")
    reason, row, detail = _quarantined(read_series_csv(path))
    assert (reason, row) == ("bad_time", 1) and detail.startswith("id_time '1' is not in")
    with pytest.raises(InputFormatError, match=r"s\.csv, row 1, series s/PT_TOTAL/BW: id_time '1'"):
        read_series_csv(path, errors="raise")
    write(tmp_path, "id_time,time\n0,2024-01-01\n1,2024-01-02\n", "times_1_day.csv")
    with pytest.raises(InputFormatError, match="several"):
        read_series_csv(path)
    got = read_series_csv(path, times_file=tmp_path / "times_1_day.csv").samples
    assert got["timestamp"].dt.day().to_list() == [1, 2]


def test_iter_twin_yields_one_result(tmp_path):
    path = write(tmp_path, "timestamp,value\n2024-01-01 00:00,1\n")
    [only] = list(iter_series_csv(path, prediction_id="p"))
    assert only.samples["prediction_id"].to_list() == ["p"]
