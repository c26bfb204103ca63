"""The server as a real process on loopback: HTTP, the access log, a graceful SIGTERM."""

from __future__ import annotations

import json
import signal

import httpx2
from live_server import live_server
from service_fleet import bearer


def test_serve_answers_over_http_logs_without_secrets_and_stops_on_sigterm(fleet, tmp_path):
    log = tmp_path / "serve.log"
    with live_server(fleet.store_dir, fleet.db, log, "--workers", "1") as server:
        with httpx2.Client(base_url=server.url) as http:
            assert http.get("/healthz").json() == {"status": "ok"}
            assert http.get("/api/v1/objects").status_code == 401
            detail = http.get("/api/v1/objects/aa01", headers=bearer(fleet.keys["viewer"]))
            assert detail.status_code == 200 and detail.json()["object"]["name"] == "Alpha web"
            done = http.post(
                f"/api/v1/sets/{fleet.draft}/approve",
                json={"reason": "live"},
                headers=bearer(fleet.keys["reviewer"]),
            )
            assert done.status_code == 200
            audit = http.get("/api/v1/audit", headers=bearer(fleet.keys["viewer"])).json()
            assert audit["items"][0]["who"] == "reviewer-key"
            assert "floodmark_http_requests_total" in http.get("/metrics").text
        # uvicorn finishes the requests, shuts the app down, then dies of the signal it got.
        assert server.stop() == -signal.SIGTERM
    text = log.read_text()
    access = [json.loads(line) for line in text.splitlines() if line.startswith('{"at"')]
    assert access.pop(0)["route"] == "/healthz"  # live_server's probe: is it listening yet
    assert [(a["method"], a["route"], a["status"]) for a in access][:3] == [
        ("GET", "/healthz", 200),
        ("GET", "/api/v1/objects", 401),
        ("GET", "/api/v1/objects/{prediction_id}", 200),
    ]
    assert access[2]["key"] == "viewer-key"
    assert all(secret not in text for secret in fleet.keys.values())
    assert "Application shutdown complete" in text and "Traceback" not in text
