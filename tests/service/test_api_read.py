"""The read endpoints in-process: objects, series, sets, thresholds, diff, audit, errors."""

from __future__ import annotations

import pytest
from service_fleet import ATTACK_AT, OBJECTS, PEAK_AT, SAMPLES, SERIES, T0, bearer


@pytest.fixture
def viewer(client, fleet):
    client.headers.update(bearer(fleet.keys["viewer"]))
    return client


def test_health_needs_no_key_and_api_needs_one(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    response = client.get("/api/v1/objects")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    "header", ["Bearer fmk_not-a-key", "Bearer ", "Basic dXNlcjpwYXNz", "fmk_bare"]
)
def test_wrong_keys_are_401_in_the_error_shape(client, header):
    response = client.get("/api/v1/sets", headers={"Authorization": header})
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"status", "code", "message"}


def test_revoked_key_is_refused_from_the_next_request(client, fleet):
    from floodmark.registry import open_registry
    from floodmark.registry.keys import list_keys, revoke_key

    assert client.get("/api/v1/sets", headers=bearer(fleet.keys["viewer"])).status_code == 200
    with open_registry(fleet.db) as registry:
        key_id = list_keys(registry).filter(name="viewer-key")["id"][0]
        revoke_key(registry, key_id, by="admin")
    assert client.get("/api/v1/sets", headers=bearer(fleet.keys["viewer"])).status_code == 401


def test_objects_are_paged_and_searched_by_id_or_name(viewer):
    first = viewer.get("/api/v1/objects", params={"limit": 2}).json()
    assert [o["prediction_id"] for o in first["items"]] == ["aa01", "bb02"]
    assert first["total"] == 3 and first["next_cursor"] == "bb02"
    rest = viewer.get("/api/v1/objects", params={"limit": 2, "cursor": "bb02"}).json()
    assert [o["prediction_id"] for o in rest["items"]] == ["cc03"]
    assert rest["next_cursor"] is None
    by_name = viewer.get("/api/v1/objects", params={"q": "MAIL"}).json()
    assert [o["prediction_id"] for o in by_name["items"]] == ["bb02"]
    assert by_name["items"][0] == {
        "prediction_id": "bb02",
        "name": "Beta mail",
        "networks": ["10.0.1.0/24"],
        "series": len(SERIES),
    }
    assert viewer.get("/api/v1/objects", params={"q": "cc0"}).json()["total"] == 1


def test_object_has_its_series_and_both_sets_levels(viewer, fleet):
    body = viewer.get("/api/v1/objects/aa01").json()
    assert body["object"]["name"] == OBJECTS["aa01"]
    assert [(s["vector"], s["metric"]) for s in body["series"]] == sorted(SERIES)
    assert {s["n_samples"] for s in body["series"]} == {SAMPLES}
    assert body["approved"]["set_id"] == fleet.approved
    assert body["latest"]["set_id"] == fleet.draft
    latest = {(r["vector"], r["metric"]): r for r in body["latest"]["rows"]}
    approved = {(r["vector"], r["metric"]): r for r in body["approved"]["rows"]}
    assert latest["PT_TCP", "PPS"]["ss"] == pytest.approx(3 * approved["PT_TCP", "PPS"]["ss"])
    assert {r["prediction_id"] for r in body["latest"]["rows"]} == {"aa01"}


def test_unknown_object_and_series_are_404(viewer):
    assert viewer.get("/api/v1/objects/zz99").status_code == 404
    missing = viewer.get("/api/v1/objects/aa01/series/PT_SYN/PPS")
    assert missing.status_code == 404
    assert "aa01/PT_SYN/PPS" in missing.json()["error"]["message"]


def test_series_keeps_its_peak_and_attack_when_downsampled(viewer):
    full = viewer.get("/api/v1/objects/aa01/series/PT_TCP/PPS", params={"max_points": 10_000})
    body = full.json()
    assert body["samples"] == SAMPLES and not body["downsampled"]
    assert [i for i, a in enumerate(body["attack"]) if a] == [ATTACK_AT]
    small = viewer.get("/api/v1/objects/aa01/series/PT_TCP/PPS", params={"max_points": 50}).json()
    assert small["downsampled"] and len(small["passed"]) <= 50
    assert max(small["passed"]) == 5000.0
    assert small["attack"].count(True) == 1
    peak_time = small["timestamp"][small["passed"].index(5000.0)]
    assert peak_time == body["timestamp"][PEAK_AT]


def test_series_window_by_start_and_end(viewer):
    start = (T0.replace(hour=1)).isoformat()
    end = (T0.replace(hour=2)).isoformat()
    body = viewer.get(
        "/api/v1/objects/aa01/series/PT_UDP/BW", params={"start": start, "end": end}
    ).json()
    assert body["samples"] == 13  # 01:00 to 02:00 every 5 minutes, both ends
    assert body["timestamp"][0].startswith("2024-03-01T01:00:00")
    backwards = viewer.get(
        "/api/v1/objects/aa01/series/PT_UDP/BW", params={"start": end, "end": start}
    )
    assert backwards.status_code == 200 and backwards.json()["samples"] == 0


def test_sets_thresholds_filtered_and_paged(viewer, fleet):
    sets = viewer.get("/api/v1/sets").json()
    assert [(s["id"], s["state"]) for s in sets] == [
        (fleet.approved, "approved"),
        (fleet.draft, "draft"),
    ]
    one = viewer.get(
        f"/api/v1/sets/{fleet.draft}/thresholds",
        params={"prediction_id": "bb02", "vector": "PT_UDP", "metric": "BW"},
    ).json()
    assert one["total"] == 1 and one["items"][0]["ss"] == 200.0
    paged = viewer.get("/api/v1/sets/approved/thresholds", params={"limit": 5}).json()
    assert paged["set_id"] == fleet.approved and len(paged["items"]) == 5
    seen, cursor = list(paged["items"]), paged["next_cursor"]
    while cursor is not None:
        page = viewer.get(
            "/api/v1/sets/approved/thresholds", params={"limit": 5, "cursor": cursor}
        ).json()
        seen += page["items"]
        cursor = page["next_cursor"]
    keys = [(r["prediction_id"], r["vector"], r["metric"]) for r in seen]
    assert len(keys) == paged["total"] == 12 and keys == sorted(set(keys))
    assert viewer.get("/api/v1/sets/approved/thresholds?cursor=x").status_code == 422
    assert viewer.get("/api/v1/sets/99/thresholds").status_code == 404


def test_diff_flags_the_moved_series(viewer, fleet):
    body = viewer.get(f"/api/v1/sets/{fleet.draft}/diff", params={"needs_review": True}).json()
    assert body["against"] == fleet.approved
    assert body["needs_review"] == 4 and body["total"] == 4
    assert {(r["prediction_id"], r["vector"], r["metric"]) for r in body["items"]} == {
        ("aa01", "PT_TCP", "PPS")
    }
    assert all(r["ratio"] == pytest.approx(3.0) for r in body["items"])
    assert "4 of" in body["summary"]


def test_validation_errors_are_422_in_the_error_shape(viewer):
    response = viewer.get("/api/v1/objects", params={"limit": 0})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid"
    assert "limit" in response.json()["error"]["message"]


def test_openapi_describes_the_api_with_bearer_security(client):
    doc = client.get("/openapi.json").json()
    assert "/api/v1/objects/{prediction_id}/series/{vector}/{metric}" in doc["paths"]
    assert "HTTPBearer" in doc["components"]["securitySchemes"]
    assert client.get("/docs").status_code == 200


def test_objects_of_the_store_that_the_registry_does_not_name(fleet, tmp_path):
    from fastapi.testclient import TestClient

    from floodmark.registry import open_registry
    from floodmark.registry.keys import create_key
    from floodmark.service import create_app

    with open_registry(tmp_path / "bare.db") as registry:
        _, secret = create_key(registry, name="v", role="viewer", by="t")
        with TestClient(create_app(fleet.store_dir, registry)) as http:
            http.headers.update(bearer(secret))
            listed = http.get("/api/v1/objects").json()
            assert listed["items"][0] == {
                "prediction_id": "aa01",
                "name": None,
                "networks": [],
                "series": len(SERIES),
            }
            body = http.get("/api/v1/objects/aa01").json()
            assert body["object"]["networks"] == [] and body["latest"] is None
