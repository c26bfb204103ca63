"""The registry commands end to end: exit codes, printed ids, review, audit."""

from __future__ import annotations

import json
import sys

import polars as pl
import pytest
from registry_builders import BASE
from typer.testing import CliRunner

from floodmark.cli import app, main
from floodmark.io.atomic import read_table, write_table

runner = CliRunner()


def _cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _main(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run like the installed command (errors as one line on stderr)."""
    monkeypatch.setattr(sys, "argv", ["floodmark", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def test_publish_prints_the_set_id_and_once_only(db_url, tmp_path, monkeypatch, capsys):
    file = write_table(BASE, tmp_path / "thresholds.csv")
    args = ("publish", "--db", db_url, "--thresholds", str(file), "--by", "alice")
    code, out, err = _main(monkeypatch, capsys, *args, "--note", "week 45")
    assert (code, out) == (0, "1\n") and "published set 1: 3 series, draft" in err
    code, out, err = _main(monkeypatch, capsys, *args)
    assert (code, out) == (0, "1\n") and "already holds these thresholds" in err
    code, out = _cli("sets", "--db", db_url, "--json")
    records = json.loads(out)
    assert code == 0 and [(r["id"], r["series"], r["state"], r["note"]) for r in records] == [
        (1, 3, "draft", "week 45")
    ]
    code, out = _cli("sets", "--db", db_url)
    assert code == 0 and "draft" in out and "rule-max" in out


def test_the_review_loop(db_url, tmp_path, monkeypatch, capsys):
    old = write_table(BASE, tmp_path / "old.parquet")
    new = write_table(BASE.with_columns(pl.col("rl") * 2.5), tmp_path / "new.json")
    for file in (old, new):
        assert _cli("publish", "--db", db_url, "--thresholds", str(file))[0] == 0
    assert _cli("approve", "--db", db_url, "1", "--by", "bob", "--reason", "ok")[0] == 0

    code, out = _cli("diff", "--db", db_url, "approved", "2", "--out", str(tmp_path / "d.csv"))
    assert code == 3
    assert "3 of 12 values need review: 3 moved beyond the guard" in out
    diff = read_table(tmp_path / "d.csv")
    assert diff.filter("needs_review")["level"].to_list() == ["rl", "rl", "rl"]
    code, out = _cli("diff", "--db", db_url, "1", "2", "--guard", "0.3,3")
    assert code == 0 and "0 of 12 values need review" in out

    code, out = _cli("approve", "--db", db_url, "2", "--by", "carol")
    assert code == 0 and "set 2 approved by carol; set 1 superseded" in out
    code, out = _cli(
        "override", "--db", db_url, "approved", "--object", "b2", "--vector", "PT_UDP",
        "--metric", "PPS", "--level", "ss", "--value", "12", "--by", "carol", "--reason", "noisy",
    )  # fmt: skip
    assert code == 0 and "set 2 b2/PT_UDP/PPS ss: 10 -> 12 by carol" in out

    code, out, err = _main(
        monkeypatch, capsys, "override", "--db", db_url, "2", "--object", "b2", "--vector",
        "PT_UDP", "--metric", "PPS", "--level", "sc", "--value", "11", "--by", "carol",
        "--reason", "typo",
    )  # fmt: skip
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "series b2/PT_UDP/PPS: set 2: sc=11 would break ss <= sc <= nw <= rl" in err

    code, out = _cli("audit", "--db", db_url, "--json")
    actions = [(r["who"], r["action"], r["what"]) for r in json.loads(out)]
    assert actions[2:] == [
        ("bob", "approve", "set 1"),
        ("carol", "supersede", "set 1"),
        ("carol", "approve", "set 2"),
        ("carol", "override", "set 2 b2/PT_UDP/PPS ss"),
    ]
    assert json.loads(out)[-1]["before"] == {"ss": 10.0}
    code, out = _cli("audit", "--db", db_url, "--last", "1")
    assert code == 0 and "override" in out and "publish" not in out


def test_objects_import(db_url, tmp_path):
    objects = tmp_path / "objects.csv"
    objects.write_text("prediction_id,name,networks\na1,shop,192.0.2.0/24 2001:db8::/32\n")
    code, out = _cli("objects", "import", str(objects), "--db", db_url)
    assert code == 0 and "1 added, 0 updated, 0 unchanged" in out
    code, out = _cli("objects", "import", str(objects), "--db", db_url)
    assert code == 0 and "0 added, 0 updated, 1 unchanged" in out


def test_errors_and_usage(tmp_path, monkeypatch, capsys):
    db = str(tmp_path / "r.db")
    code, _, err = _main(monkeypatch, capsys, "sets", "--db", db)
    assert code == 1 and "r.db: no registry here yet" in err
    assert not (tmp_path / "r.db").exists()
    bad = write_table(BASE.with_columns(sc=pl.Series([1.0, 2.0, 3.0])), tmp_path / "bad.csv")
    code, _, err = _main(monkeypatch, capsys, "publish", "--db", db, "--thresholds", str(bad))
    assert code == 1 and "bad.csv, series a1/PT_TCP/PPS: levels are not ordered" in err
    code, _, err = _main(monkeypatch, capsys, "approve", "--db", db, "5", "--by", "x")
    assert code == 1 and "no set 5" in err
    assert _cli("diff", "--db", db, "1", "2", "--guard", "2,3")[0] == 2
    assert _cli("diff", "--db", db, "1", "2", "--out", str(tmp_path / "d.txt"))[0] == 2
    assert _cli("approve", "--db", db, "1")[0] == 2  # --by is required
