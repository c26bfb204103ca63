"""The console in-process: login, session cookie, CSRF, throttling, pages, role checks."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from floodmark.registry import audit_log, open_registry
from floodmark.registry.models import LoginFailure
from floodmark.service import create_app
from floodmark.service.auth import LoginThrottle

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(page: str) -> str:
    return CSRF.search(page).group(1)


def log_in(client: TestClient, secret: str, next_page: str = "/console/"):
    form = client.get("/console/login").text
    return client.post(
        "/console/login",
        data={"key": secret, "csrf": csrf_of(form), "next": next_page},
        follow_redirects=False,
    )


def test_pages_need_a_login_and_the_cookie_is_strict(client, fleet):
    first = client.get("/console/objects/aa01", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/console/login?next=/console/objects/aa01"
    done = log_in(client, fleet.keys["viewer"], "/console/objects/aa01")
    assert done.status_code == 303 and done.headers["location"] == "/console/objects/aa01"
    cookie = done.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
    assert fleet.keys["viewer"] not in done.headers["set-cookie"]
    page = client.get("/console/objects/aa01")
    assert page.status_code == 200 and "Alpha web" in page.text


def test_a_wrong_key_is_refused_and_repeated_failures_are_throttled(fleet):
    with open_registry(fleet.db) as registry:
        app = create_app(fleet.store_dir, registry, login_throttle=LoginThrottle(failures=3))
        with TestClient(app) as client:
            for _ in range(3):
                assert log_in(client, "fmk_wrong").status_code == 401
            throttled = log_in(client, fleet.keys["viewer"])
            assert throttled.status_code == 429


def test_failed_logins_are_counted_across_server_processes(fleet):
    # Two apps over one registry, as two workers: each has its own throttle object.
    with open_registry(fleet.db) as one, open_registry(fleet.db) as two:
        apps = [
            create_app(fleet.store_dir, r, login_throttle=LoginThrottle(failures=3))
            for r in (one, two)
        ]
        with TestClient(apps[0]) as first, TestClient(apps[1]) as second:
            for client in (first, second, first):
                assert log_in(client, "fmk_wrong").status_code == 401
            assert log_in(second, fleet.keys["viewer"]).status_code == 429
            assert log_in(first, fleet.keys["viewer"]).status_code == 429


def test_the_throttle_forgets_failures_older_than_its_window(fleet):
    now = [dt.datetime(2026, 1, 1, tzinfo=dt.UTC)]
    throttle = LoginThrottle(failures=2, window=60, clock=lambda: now[0])
    with open_registry(fleet.db) as registry:
        app = create_app(fleet.store_dir, registry, login_throttle=throttle)
        with TestClient(app) as client:
            for _ in range(2):
                assert log_in(client, "fmk_wrong").status_code == 401
            assert log_in(client, fleet.keys["viewer"]).status_code == 429
            now[0] += dt.timedelta(seconds=61)
            assert log_in(client, "fmk_wrong").status_code == 401  # one failure in the window
            with registry.sessions() as session:  # the older ones are gone
                assert session.scalar(sa.select(sa.func.count()).select_from(LoginFailure)) == 1
            assert log_in(client, fleet.keys["viewer"]).status_code == 303


def test_login_without_the_csrf_token_is_refused(client, fleet):
    client.get("/console/login")
    response = client.post("/console/login", data={"key": fleet.keys["viewer"], "csrf": "x"})
    assert response.status_code == 403


def test_login_never_redirects_off_the_console(client, fleet):
    done = log_in(client, fleet.keys["viewer"], "https://elsewhere.example/")
    assert done.headers["location"] == "/console/"


def test_fleet_page_searches_and_lists_sets_to_review(client, fleet):
    log_in(client, fleet.keys["viewer"])
    page = client.get("/console/", params={"q": "gamma"}).text
    assert "/console/objects/cc03" in page and "/console/objects/aa01" not in page
    assert f'Needs review:\n  <a href="/console/sets/{fleet.draft}">' in page
    assert "3 objects · 12 series · 2 threshold sets" in page


def test_object_page_and_its_plot(client, fleet):
    log_in(client, fleet.keys["viewer"])
    page = client.get("/console/objects/aa01").text
    assert page.count('class="plot-button"') == 4
    assert '<script src="/console/plotly.min.js">' in page and "cdn" not in page.lower()
    figure = client.get("/console/objects/aa01/plot/PT_TCP/PPS").json()
    raw = next(trace for trace in figure["data"] if trace["name"] == "passed (raw)")
    assert len(raw["y"]["bdata"] if isinstance(raw["y"], dict) else raw["y"]) > 0
    names = [trace["name"] for trace in figure["data"]]
    assert any(name.startswith("recommended ss = 600") for name in names)  # the latest set's
    assert client.get("/console/plotly.min.js").text.startswith("/**")
    assert client.get("/console/objects/aa01/plot/PT_SYN/PPS").status_code == 404


def test_a_reviewer_approves_and_overrides_through_forms(client, fleet):
    log_in(client, fleet.keys["reviewer"])
    review = client.get(f"/console/sets/{fleet.draft}").text
    assert 'id="approve-button"' in review and "aa01" in review
    token = csrf_of(review)
    done = client.post(
        f"/console/sets/{fleet.draft}/overrides",
        data={
            "csrf": token,
            "prediction_id": "aa01",
            "vector": "PT_TCP",
            "metric": "PPS",
            "level": "ss",
            "value": "550",
            "reason": "seen in traffic",
        },
    )
    assert done.status_code == 200 and "aa01/PT_TCP/PPS ss set to 550" in done.text
    approved = client.post(
        f"/console/sets/{fleet.draft}/approve", data={"csrf": token, "reason": "week 2"}
    )
    assert approved.status_code == 200 and f"set {fleet.draft} approved" in approved.text
    with open_registry(fleet.db) as registry:
        log = audit_log(registry).filter(who="reviewer-key")
    assert log["action"].to_list() == ["override", "supersede", "approve"]
    audit = client.get("/console/audit").text
    assert "reviewer-key" in audit and "week 2" in audit


def test_a_write_without_the_csrf_token_is_refused(client, fleet):
    log_in(client, fleet.keys["reviewer"])
    response = client.post(f"/console/sets/{fleet.draft}/approve", data={"reason": "x"})
    assert response.status_code == 403
    with open_registry(fleet.db) as registry:
        assert audit_log(registry).filter(action="approve", who="reviewer-key").height == 0


def test_a_viewer_sees_no_approve_button_and_gets_403_posting(client, fleet):
    log_in(client, fleet.keys["viewer"])
    review = client.get(f"/console/sets/{fleet.draft}").text
    assert 'id="approve-button"' not in review and 'id="read-only"' in review
    response = client.post(
        f"/console/sets/{fleet.draft}/approve", data={"csrf": csrf_of(review), "reason": "x"}
    )
    assert response.status_code == 403 and "viewer" in response.text


def test_a_session_does_not_authorise_api_writes(client, fleet):
    log_in(client, fleet.keys["reviewer"])
    assert client.get("/api/v1/sets").status_code == 200  # reads ride on the session
    response = client.post(f"/api/v1/sets/{fleet.draft}/approve", json={"reason": "x"})
    assert response.status_code == 401


def test_logging_out_ends_the_session(client, fleet):
    log_in(client, fleet.keys["viewer"])
    page = client.get("/console/").text
    client.post("/console/logout", data={"csrf": csrf_of(page)})
    assert client.get("/console/", follow_redirects=False).status_code == 303


def test_export_download_from_the_console(client, fleet):
    log_in(client, fleet.keys["viewer"])
    response = client.get(f"/console/sets/{fleet.approved}/export", params={"format": "json"})
    assert response.status_code == 200 and response.json()
    bad = client.get(f"/console/sets/{fleet.approved}/export", params={"format": "xml"})
    assert bad.status_code == 422


@pytest.mark.parametrize("path", ["/console/objects/zz99", "/console/sets/99"])
def test_missing_things_are_404_pages(client, fleet, path):
    log_in(client, fleet.keys["viewer"])
    response = client.get(path)
    assert response.status_code == 404 and response.headers["content-type"].startswith("text/html")


def test_the_cookie_is_secure_when_served_over_tls(fleet):
    with open_registry(fleet.db) as registry:
        app = create_app(fleet.store_dir, registry, https=True)
        with TestClient(app, base_url="https://testserver") as client:
            done = log_in(client, fleet.keys["viewer"])
    assert done.status_code == 303 and "secure" in done.headers["set-cookie"].lower()
