"""``floodmark serve`` as a real process on loopback, for the end-to-end and browser tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2

RUNNING = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")


@dataclass
class LiveServer:
    url: str
    proc: subprocess.Popen
    log: Path

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)


def answers(url: str) -> bool:
    """Whether the server at ``url`` answers its health check."""
    try:
        return httpx2.get(f"{url}/healthz", timeout=5).status_code == 200
    except httpx2.HTTPError:
        return False


@contextmanager
def live_server(store_dir: Path, db: str, log: Path, *extra: str) -> Iterator[LiveServer]:
    """Start the server on a free loopback port; stop it (SIGTERM) afterwards."""
    args = [sys.executable, "-c", "from floodmark.cli import main; main()", "serve"]
    args += ["--store", str(store_dir), "--db", db, "--port", "0", *extra]
    with open(log, "wb") as sink:
        proc = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT, env=os.environ.copy())
    server = None
    try:
        for _ in range(600):  # up to a minute on a busy machine
            found = RUNNING.search(log.read_text(errors="replace"))
            # The socket is bound (and logged) before the workers listen on it.
            if found and answers(found.group(1)):
                server = LiveServer(found.group(1), proc, log)
                break
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited: {log.read_text()}")
            time.sleep(0.1)
        else:
            raise RuntimeError(f"the server did not start: {log.read_text()}")
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
