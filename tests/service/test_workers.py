"""Several server processes: one registry view per process, kept in step with the registry;
a console session valid on every worker; connections spread over them; SIGTERM stops them
all."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient
from live_server import live_server
from service_fleet import bearer
from test_console import csrf_of

from floodmark.registry import approve_set, open_registry, override_threshold
from floodmark.service import create_app

WORKER = re.compile(r"Started server process \[(\d+)\]")
#: Fresh connections per check: the kernel hands each connection to one worker's socket
#: by a hash of its addresses, so a worker missed by 16 connections is unlikely.
CONNECTIONS = 16
#: A client's pool of keep-alive connections, as bench/serve.py opens it.
POOL = 32


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def two_apps(fleet):
    """Two apps over one registry, as two server processes have: each its own caches."""
    with open_registry(fleet.db) as one, open_registry(fleet.db) as two:
        apps = [create_app(fleet.store_dir, r, session_secret="s") for r in (one, two)]
        with TestClient(apps[0]) as first, TestClient(apps[1]) as second:
            yield first, second


def test_a_write_through_one_process_shows_at_once_on_another(two_apps, fleet):
    first, second = two_apps
    viewer, reviewer = bearer(fleet.keys["viewer"]), bearer(fleet.keys["reviewer"])
    before = second.get("/api/v1/objects/aa01", headers=viewer).json()
    assert before["approved"]["set_id"] == fleet.approved  # the second one holds its view
    assert first.post(
        f"/api/v1/sets/{fleet.draft}/approve", json={"reason": "ok"}, headers=reviewer
    ).is_success
    after = second.get("/api/v1/objects/aa01", headers=viewer).json()
    assert after["approved"]["set_id"] == fleet.draft
    body = {"prediction_id": "aa01", "vector": "PT_TCP", "metric": "PPS", "level": "ss"}
    assert first.post(
        f"/api/v1/sets/{fleet.draft}/overrides",
        json={**body, "value": 123.0, "reason": "known peak"},
        headers=reviewer,
    ).is_success
    rows = second.get(
        "/api/v1/sets/approved/thresholds",
        params={"prediction_id": "aa01", "vector": "PT_TCP", "metric": "PPS"},
        headers=viewer,
    ).json()["items"]
    assert rows[0]["ss"] == 123.0


def test_a_write_from_the_command_line_shows_on_the_next_request(client, fleet):
    viewer = bearer(fleet.keys["viewer"])
    path = "/api/v1/sets/latest/thresholds?prediction_id=aa01&vector=PT_UDP&metric=BW"
    assert client.get(path, headers=viewer).json()["items"][0]["rl"] == 600.0
    with open_registry(fleet.db) as registry:  # as `floodmark override` does
        override_threshold(
            registry, fleet.draft, prediction_id="aa01", vector="PT_UDP", metric="BW",
            level="rl", value=900.0, reason="cli", by="cli",
        )  # fmt: skip
        approve_set(registry, fleet.draft, by="cli", reason="cli")
    answer = client.get(path, headers=viewer).json()
    assert answer["state"] == "approved" and answer["items"][0]["rl"] == 900.0


def test_a_key_revoked_through_one_process_is_refused_by_another(two_apps, fleet):
    first, second = two_apps
    viewer = bearer(fleet.keys["viewer"])
    assert second.get("/api/v1/objects", headers=viewer).status_code == 200
    keys = first.get("/api/v1/keys", headers=bearer(fleet.keys["admin"])).json()
    viewer_id = next(k["id"] for k in keys if k["name"] == "viewer-key")
    assert first.post(
        f"/api/v1/keys/{viewer_id}/revoke", headers=bearer(fleet.keys["admin"])
    ).is_success
    assert second.get("/api/v1/objects", headers=viewer).status_code == 401


def test_two_workers_share_sessions_and_writes_and_stop_on_sigterm(fleet, tmp_path):
    log = tmp_path / "serve.log"
    with live_server(fleet.store_dir, fleet.db, log, "--workers", "2") as server:
        for _ in range(600):  # the first worker may answer before the second has started
            if log.read_text().count("Application startup complete") == 2:
                break
            time.sleep(0.1)
        workers = [int(pid) for pid in WORKER.findall(log.read_text())]
        assert len(workers) == 2 and server.proc.pid not in workers
        with httpx2.Client(base_url=server.url) as http:
            form = http.get("/console/login").text
            done = http.post(
                "/console/login",
                data={"key": fleet.keys["viewer"], "csrf": csrf_of(form)},
                follow_redirects=True,
            )
            assert done.status_code == 200 and "Alpha web" in done.text
            cookies = dict(http.cookies)

        def fresh_get(path: str, **kwargs) -> httpx2.Response:
            # A new connection each time (kwargs: the client's headers or cookies).
            with httpx2.Client(base_url=server.url, **kwargs) as one:
                return one.get(path, follow_redirects=False)

        # The session the parent's secret signed opens the console on either worker.
        assert {
            fresh_get("/console/", cookies=cookies).status_code for _ in range(CONNECTIONS)
        } == {200}
        viewer = bearer(fleet.keys["viewer"])
        for _ in range(CONNECTIONS):  # each worker reads (and keeps) the registry
            assert (
                fresh_get("/api/v1/sets/approved/thresholds", headers=viewer).json()["set_id"]
                == fleet.approved
            )
        assert httpx2.post(
            f"{server.url}/api/v1/sets/{fleet.draft}/approve",
            json={"reason": "live"},
            headers=bearer(fleet.keys["reviewer"]),
        ).is_success
        for _ in range(CONNECTIONS):
            assert (
                fresh_get("/api/v1/sets/approved/thresholds", headers=viewer).json()["set_id"]
                == fleet.draft
            )
        # The parent passes SIGTERM on, waits for both workers, then exits cleanly.
        assert server.stop() == 0
    assert not [pid for pid in workers if _alive(pid)]
    text = log.read_text()
    assert text.count("Application shutdown complete") == 2
    assert "Traceback" not in text and "Stopping parent process" in text


def _established(port: int) -> set[str]:
    """Inodes of the established TCP sockets whose local port is ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                found.add(fields[9])
    return found


def _sockets_of(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):  # closed since listed
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    return inodes


@pytest.mark.skipif(not Path("/proc/net/tcp").is_file(), reason="reads Linux's /proc")
def test_connections_opened_at_once_spread_over_the_workers(fleet, tmp_path):
    """A client opening its pool (32 connections at once) keeps every worker busy, not one."""
    log = tmp_path / "serve.log"
    with live_server(fleet.store_dir, fleet.db, log, "--workers", "2") as server:
        for _ in range(600):
            if log.read_text().count("Application startup complete") == 2:
                break
            time.sleep(0.1)
        workers = [int(pid) for pid in WORKER.findall(log.read_text())]
        port = int(server.url.rsplit(":", 1)[1])

        async def open_pool() -> dict[int, int]:
            limits = httpx2.Limits(max_connections=POOL, max_keepalive_connections=POOL)
            viewer = bearer(fleet.keys["viewer"])
            async with httpx2.AsyncClient(base_url=server.url, limits=limits) as http:
                answers = await asyncio.gather(
                    *(http.get("/api/v1/objects/aa01", headers=viewer) for _ in range(POOL))
                )
                assert {a.status_code for a in answers} == {200}
                held = _established(port)  # the pool's connections, still open
                return {pid: len(_sockets_of(pid) & held) for pid in workers}

        held = asyncio.run(open_pool())
        assert sum(held.values()) == POOL
        # Evenly spread, each of the 32 falls on either worker: fewer than 4 on one of
        # them happens once in 400,000 runs.
        assert min(held.values()) >= POOL // 8, held


def test_a_second_server_on_the_port_of_a_running_one_refuses_to_start(fleet, tmp_path):
    """Sockets that share a port must not let a second server take half the connections."""
    with live_server(fleet.store_dir, fleet.db, tmp_path / "first.log", "--workers", "2") as first:
        port = first.url.rsplit(":", 1)[1]
        argv = [sys.executable, "-c", "from floodmark.cli import main; main()", "serve"]
        argv += ["--store", str(fleet.store_dir), "--db", fleet.db, "--port", port]
        second = subprocess.Popen(
            [*argv, "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            output, _ = second.communicate(timeout=120)
        except subprocess.TimeoutExpired:  # it serves: stop it and its workers
            second.send_signal(signal.SIGTERM)
            second.communicate(timeout=60)
            pytest.fail(f"a second server started on port {port}")
        assert second.returncode != 0
        assert "address already in use" in output.lower()
        assert httpx2.get(f"{first.url}/healthz").status_code == 200
