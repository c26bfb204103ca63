"""Objects: import from the objects CSV, re-import updates, every change audited."""

from __future__ import annotations

import pytest

from floodmark.errors import InputFormatError
from floodmark.registry import audit_log, import_objects_csv, open_registry, read_objects

FIRST = """prediction_id,name,networks
a1,shop,192.0.2.0/24 2001:db8:1::/48
b2,mail,198.51.100.16/28
"""
SECOND = """prediction_id,name,networks
a1,shop,2001:db8:1::/48 192.0.2.0/24
b2,mail relay,198.51.100.16/28 198.51.100.32/28
c3,dns,
"""


def test_import_then_reimport_updates(db_url, tmp_path):
    (tmp_path / "first.csv").write_text(FIRST)
    (tmp_path / "second.csv").write_text(SECOND)
    with open_registry(db_url) as registry:
        first = import_objects_csv(registry, tmp_path / "first.csv", by="ops")
        again = import_objects_csv(registry, tmp_path / "first.csv", by="ops")
        rows_after_again = audit_log(registry).height
        second = import_objects_csv(registry, tmp_path / "second.csv", by="ops")
        objects = read_objects(registry)
        log = audit_log(registry)
    assert (first.added, first.updated, first.unchanged) == (2, 0, 0)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)
    assert rows_after_again == 2
    # a1 lists the same networks in another order: unchanged.
    assert (second.added, second.updated, second.unchanged) == (1, 1, 1)
    assert objects.rows() == [
        ("a1", "shop", ["192.0.2.0/24", "2001:db8:1::/48"]),
        ("b2", "mail relay", ["198.51.100.16/28", "198.51.100.32/28"]),
        ("c3", "dns", []),
    ]
    assert log.tail(2).select("action", "what", "before", "after").rows() == [
        (
            "object",
            "object b2",
            '{"name":"mail","networks":["198.51.100.16/28"]}',
            '{"name":"mail relay","networks":["198.51.100.16/28","198.51.100.32/28"]}',
        ),
        ("object", "object c3", None, '{"name":"dns","networks":[]}'),
    ]


def test_objects_missing_from_a_new_file_are_kept_and_counted(tmp_path):
    (tmp_path / "first.csv").write_text(FIRST)
    (tmp_path / "only_a.csv").write_text("prediction_id,name,networks\na1,shop,192.0.2.0/24\n")
    with open_registry(tmp_path / "r.db") as registry:
        import_objects_csv(registry, tmp_path / "first.csv", by="ops")
        result = import_objects_csv(registry, tmp_path / "only_a.csv", by="ops")
        assert read_objects(registry).height == 2
    assert result.not_in_file == 1
    assert result.describe() == "0 added, 1 updated, 0 unchanged; 1 not in the file, kept"


def test_an_invalid_file_imports_nothing(tmp_path):
    (tmp_path / "bad.csv").write_text(FIRST + "d4,x,192.0.2.1/24\n")
    with open_registry(tmp_path / "r.db") as registry:
        with pytest.raises(InputFormatError, match="row 4"):
            import_objects_csv(registry, tmp_path / "bad.csv", by="ops")
        assert read_objects(registry).height == 0
        assert audit_log(registry).height == 0
