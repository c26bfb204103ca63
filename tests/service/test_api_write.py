"""Writes through the API: roles, approve, override, their audit rows; export; metrics; log."""

from __future__ import annotations

import io
import json
import logging
import zipfile

import polars as pl
import pytest
from service_fleet import bearer


def test_a_viewer_cannot_write_and_no_key_is_401(client, fleet):
    body = {"reason": "looks fine"}
    assert client.post(f"/api/v1/sets/{fleet.draft}/approve", json=body).status_code == 401
    refused = client.post(
        f"/api/v1/sets/{fleet.draft}/approve", json=body, headers=bearer(fleet.keys["viewer"])
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    sets = client.get("/api/v1/sets", headers=bearer(fleet.keys["viewer"])).json()
    assert sets[fleet.draft - 1]["state"] == "draft"


def test_a_reviewer_approves_and_the_audit_names_the_key(client, fleet):
    headers = bearer(fleet.keys["reviewer"])
    done = client.post(
        f"/api/v1/sets/{fleet.draft}/approve", json={"reason": "week 2 ok"}, headers=headers
    )
    assert done.status_code == 200
    assert done.json() == {"set_id": fleet.draft, "superseded": [fleet.approved], "changed": True}
    again = client.post(
        f"/api/v1/sets/{fleet.draft}/approve", json={"reason": "x"}, headers=headers
    )
    assert again.json()["changed"] is False
    audit = client.get("/api/v1/audit", headers=headers).json()["items"]
    approve = next(row for row in audit if row["action"] == "approve")
    assert approve["who"] == "reviewer-key" and approve["what"] == f"set {fleet.draft}"
    assert approve["after"] == {"reason": "week 2 ok", "state": "approved"}
    assert audit == sorted(audit, key=lambda row: -row["id"])


@pytest.mark.parametrize("reason", ["", "   "])
def test_an_approval_needs_a_reason(client, fleet, reason):
    response = client.post(
        f"/api/v1/sets/{fleet.draft}/approve",
        json={"reason": reason},
        headers=bearer(fleet.keys["reviewer"]),
    )
    assert response.status_code == 422


def test_malformed_json_is_400_and_a_missing_set_404(client, fleet):
    headers = bearer(fleet.keys["reviewer"]) | {"Content-Type": "application/json"}
    bad = client.post(f"/api/v1/sets/{fleet.draft}/approve", content=b"{no", headers=headers)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"
    missing = client.post("/api/v1/sets/77/approve", json={"reason": "x"}, headers=headers)
    assert missing.status_code == 404


def override(client, fleet, set_ref, **changes):
    body = {
        "prediction_id": "bb02",
        "vector": "PT_UDP",
        "metric": "PPS",
        "level": "nw",
        "value": 450.0,
        "reason": "customer asked",
    } | changes
    return client.post(
        f"/api/v1/sets/{set_ref}/overrides", json=body, headers=bearer(fleet.keys["reviewer"])
    )


def test_override_changes_the_effective_level_and_is_audited(client, fleet):
    done = override(client, fleet, fleet.draft)
    assert done.status_code == 200
    assert done.json() == {
        "set_id": fleet.draft,
        "series": "bb02/PT_UDP/PPS",
        "level": "nw",
        "before": 400.0,
        "after": 450.0,
    }
    row = client.get(
        f"/api/v1/sets/{fleet.draft}/thresholds",
        params={"prediction_id": "bb02", "vector": "PT_UDP", "metric": "PPS"},
        headers=bearer(fleet.keys["viewer"]),
    ).json()["items"][0]
    assert row["nw"] == 450.0 and "by reviewer-key (customer asked)" in row["basis"]
    audit = client.get("/api/v1/audit", params={"limit": 1}, headers=bearer(fleet.keys["viewer"]))
    assert audit.json()["items"][0]["who"] == "reviewer-key"


def test_override_refusals_have_the_right_status(client, fleet):
    assert override(client, fleet, fleet.draft, value=10_000.0).status_code == 409  # above rl
    assert override(client, fleet, fleet.draft, prediction_id="zz99").status_code == 404
    assert override(client, fleet, fleet.draft, level="xx").status_code == 422
    assert override(client, fleet, fleet.draft, value=-1).status_code == 422
    approve = client.post(
        f"/api/v1/sets/{fleet.draft}/approve",
        json={"reason": "ok"},
        headers=bearer(fleet.keys["reviewer"]),
    )
    assert approve.status_code == 200
    superseded = override(client, fleet, fleet.approved)
    assert superseded.status_code == 409
    assert "superseded" in superseded.json()["error"]["message"]


def test_audit_pages_backwards(client, fleet):
    headers = bearer(fleet.keys["viewer"])
    everything = client.get("/api/v1/audit", headers=headers).json()["items"]
    first = client.get("/api/v1/audit", params={"limit": 2}, headers=headers).json()
    second = client.get(
        "/api/v1/audit", params={"limit": 100, "before": first["next_before"]}, headers=headers
    ).json()
    assert first["items"] + second["items"] == everything
    assert second["next_before"] is None


def test_export_csv_has_every_series_with_overrides(client, fleet):
    override(client, fleet, fleet.draft)
    response = client.get(
        f"/api/v1/sets/{fleet.draft}/export",
        params={"format": "csv"},
        headers=bearer(fleet.keys["viewer"]),
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert f"set{fleet.draft}-csv.csv" in response.headers["content-disposition"]
    table = pl.read_csv(io.BytesIO(response.content))
    assert table.height == 12
    row = table.filter(prediction_id="bb02", vector="PT_UDP", metric="PPS").row(0, named=True)
    assert row["nw"] == 450.0 and row["name"] == "Beta mail"


def test_export_fastnetmon_is_a_zip_with_the_networks_list(client, fleet):
    headers = bearer(fleet.keys["viewer"])
    response = client.get(
        "/api/v1/sets/approved/export",
        params={"format": "fastnetmon", "level": "nw", "bw_unit": "kbps"},
        headers=headers,
    )
    assert response.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert any(n.endswith(".conf") for n in names)
    assert any(n.endswith(".networks_list") for n in names)
    no_level = client.get(
        "/api/v1/sets/approved/export", params={"format": "fastnetmon"}, headers=headers
    )
    assert no_level.status_code == 422
    as_json = client.get(
        "/api/v1/sets/approved/export",
        params={"format": "fastnetmon-json", "level": "ss"},
        headers=headers,
    )
    assert as_json.status_code == 200 and json.loads(as_json.content)


def test_metrics_count_requests_by_route(client, fleet):
    client.get("/api/v1/objects/aa01", headers=bearer(fleet.keys["viewer"]))
    client.get("/api/v1/objects/bb02", headers=bearer(fleet.keys["viewer"]))
    text = client.get("/metrics").text
    assert (
        'floodmark_http_requests_total{method="GET",route="/api/v1/objects/{prediction_id}",'
        'status="200"} 2.0'
    ) in text
    assert "floodmark_http_request_duration_seconds_bucket" in text


def test_access_log_names_the_key_never_its_secret(client, fleet, caplog):
    secret = fleet.keys["viewer"]
    with caplog.at_level(logging.INFO, logger="floodmark.access"):
        client.get("/api/v1/objects", params={"q": "alpha"}, headers=bearer(secret))
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "floodmark.access"]
    assert lines[-1]["key"] == "viewer-key" and lines[-1]["status"] == 200
    assert lines[-1]["route"] == "/api/v1/objects"
    assert all(
        secret not in r.getMessage() and "alpha" not in r.getMessage() for r in caplog.records
    )


def test_only_an_admin_manages_keys(client, fleet):
    admin = bearer(fleet.keys["admin"])
    assert client.get("/api/v1/keys", headers=bearer(fleet.keys["reviewer"])).status_code == 403
    made = client.post(
        "/api/v1/keys", json={"name": "night shift", "role": "viewer"}, headers=admin
    )
    assert made.status_code == 200
    new = made.json()
    assert client.get("/api/v1/sets", headers=bearer(new["key"])).status_code == 200
    listed = client.get("/api/v1/keys", headers=admin).json()
    assert [k["name"] for k in listed][-1] == "night shift"
    assert all(new["key"] not in str(k) for k in listed)
    done = client.post(f"/api/v1/keys/{new['id']}/revoke", headers=admin)
    assert done.json() == {"id": new["id"], "changed": True}
    assert client.get("/api/v1/sets", headers=bearer(new["key"])).status_code == 401
    own = next(k["id"] for k in listed if k["name"] == "admin-key")
    assert client.post(f"/api/v1/keys/{own}/revoke", headers=admin).status_code == 409
    assert client.post("/api/v1/keys/999/revoke", headers=admin).status_code == 404
    audit = client.get("/api/v1/audit", params={"limit": 2}, headers=admin).json()["items"]
    assert [(a["who"], a["action"]) for a in audit] == [
        ("admin-key", "key-revoke"),
        ("admin-key", "key-create"),
    ]


def test_ids_beyond_the_registry_integers_are_refused_not_500(client, fleet):
    admin, reviewer = bearer(fleet.keys["admin"]), bearer(fleet.keys["reviewer"])
    huge = str(2**63)
    revoked = client.post(f"/api/v1/keys/{huge}/revoke", headers=admin)
    assert revoked.status_code == 422 and revoked.json()["error"]["code"] == "invalid"
    approved = client.post(f"/api/v1/sets/{huge}/approve", json={"reason": "x"}, headers=reviewer)
    assert approved.status_code == 404 and huge in approved.json()["error"]["message"]
    assert client.get(f"/api/v1/audit?before={huge}", headers=admin).status_code == 422
    assert client.get(f"/api/v1/sets/{huge}/thresholds", headers=admin).status_code == 404
