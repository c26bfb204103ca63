"""The objects file: networks per protected object, validated line by line."""

from __future__ import annotations

import pytest

from floodmark.errors import InputFormatError
from floodmark.io.objects import parse_networks, read_objects_csv


def write(tmp_path, text: str):
    path = tmp_path / "objects.csv"
    path.write_text(text)
    return path


def test_reads_ipv4_and_ipv6_networks_in_canonical_order(tmp_path):
    path = write(
        tmp_path,
        "prediction_id,name,networks\n"
        " a1 ,shop, 2001:DB8:1::/48 192.0.2.0/24 192.0.2.0/24\n"
        "b2,,198.51.100.16/28\n"
        "c3,no networks,\n",
    )
    table = read_objects_csv(path)
    assert table.to_dicts() == [
        {"prediction_id": "a1", "name": "shop", "networks": ["192.0.2.0/24", "2001:db8:1::/48"]},
        {"prediction_id": "b2", "name": "b2", "networks": ["198.51.100.16/28"]},
        {"prediction_id": "c3", "name": "no networks", "networks": []},
    ]


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        ("a,x,192.0.2.1/24\n", 2, "192.0.2.1/24"),
        ("a,x,192.0.2.0/33\n", 2, "192.0.2.0/33"),
        ("a,x,2001:db8::/129\n", 2, "2001:db8::/129"),
        ("a,x,example.com\n", 2, "example.com"),
        ("a,x,192.0.2.0/24\n,y,198.51.100.0/24\n", 3, "prediction_id is empty"),
        ("a,x,192.0.2.0/24\na,y,198.51.100.0/24\n", 3, "repeats line 2"),
    ],
)
def test_bad_lines_are_named(tmp_path, body, line, words):
    path = write(tmp_path, "prediction_id,name,networks\n" + body)
    with pytest.raises(InputFormatError) as info:
        read_objects_csv(path)
    assert str(path) in str(info.value)
    assert f"row {line}" in str(info.value)
    assert words in str(info.value)


def test_missing_column_is_named(tmp_path):
    path = write(tmp_path, "prediction_id,networks\na,192.0.2.0/24\n")
    with pytest.raises(InputFormatError, match="lacks column"):
        read_objects_csv(path)


def test_parse_networks_deduplicates():
    assert parse_networks("198.51.100.0/24  198.51.100.0/24 ::/0") == ["198.51.100.0/24", "::/0"]


def test_generated_fleet_objects_round_trip(tmp_path):
    from floodmark.generate.objects import fleet_objects
    from floodmark.io.objects import write_objects_csv

    table = fleet_objects(["p0", "p1", "p2"])
    assert table["networks"].to_list()[2] == ["198.18.0.64/27", "2001:db8:2::/48"]
    path = write_objects_csv(table, tmp_path / "objects.csv")
    assert read_objects_csv(path).equals(table)
