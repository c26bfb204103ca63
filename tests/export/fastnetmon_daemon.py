"""The real FastNetMon Community daemon, run in the foreground inside a test's tmp dir.

Everything it would write under /var goes under the tmp dir: the log
(``--log_file``), the pid file (``pid_path``), the client statistics
(``cli_stats_*``). FastNetMon 1.2.4 has no key for its attack-details folder
(``/var/log/fastnetmon_attacks``): when that folder is missing it logs an error and
writes nothing there.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from floodmark.export.fastnetmon import default_base

PARSE_ERRORS = ("We can't parse new host group", "Cannot parse subnet", "Can't parse config line")


def fastnetmon_binary() -> str:
    """The ``fastnetmon`` executable; a failure in CI, a skip elsewhere, when missing."""
    exe = shutil.which("fastnetmon") or shutil.which("fastnetmon", path="/usr/sbin:/sbin")
    if exe is None:
        message = "fastnetmon is not installed (Debian package fastnetmon)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return exe


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def notify_script(directory: Path) -> tuple[Path, Path]:
    """A notify script recording each call (arguments, then stdin) to ``calls.log``."""
    calls = directory / "calls.log"
    script = directory / "notify.sh"
    script.write_text(
        f"#!/bin/sh\n{{ printf 'ARGS %s\\n' \"$*\"; cat; printf 'END\\n'; }} >> '{calls}'\n"
    )
    script.chmod(0o755)
    return script, calls


def daemon_base(directory: Path, *, port: int, notify: Path) -> Path:
    """floodmark's built-in base with the paths and the collector moved into ``directory``.

    FastNetMon keeps the last value of a key, so the overrides simply come last.
    """
    whitelist = directory / "whitelist"
    whitelist.write_text("")
    overrides = {
        "logging_level": "debug",
        "white_list_path": whitelist,
        "sflow": "off",
        "netflow": "on",
        "netflow_host": "127.0.0.1",
        "netflow_port": port,
        "average_calculation_time": 1,
        "notify_script_path": notify,
        "pid_path": directory / "fastnetmon.pid",
        "cli_stats_file_path": directory / "fastnetmon.dat",
        "cli_stats_ipv6_file_path": directory / "fastnetmon_ipv6.dat",
    }
    base = directory / "base.conf"
    lines = "".join(f"{key} = {value}\n" for key, value in overrides.items())
    base.write_text(f"{default_base()}\n# test overrides\n{lines}")
    return base


def configuration_check(conf: Path, log: Path) -> subprocess.CompletedProcess:
    """``fastnetmon --configuration_check``, logging to ``log``."""
    return subprocess.run(
        [
            fastnetmon_binary(),
            "--configuration_check",
            "--configuration_file",
            str(conf),
            "--log_file",
            str(log),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class Daemon:
    """A running ``fastnetmon``; ``stop()`` always ends it (call it from a finalizer)."""

    def __init__(self, conf: Path, log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [
                fastnetmon_binary(),
                "--configuration_file",
                str(conf),
                "--log_file",
                str(log),
                "--disable_pid_logic",
            ],
            cwd=conf.parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for(self, text: str, *, polls: int = 300, interval: float = 0.1) -> str:
        """Poll the log until ``text`` appears (bounded); the log so far."""
        for _ in range(polls):
            log = self.log_text()
            if text in log:
                return log
            if self.process.poll() is not None:
                break
            time.sleep(interval)
        raise AssertionError(f"fastnetmon never logged {text!r}; its log:\n{self.log_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
