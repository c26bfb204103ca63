"""A tiny Chrome DevTools Protocol client over ``--remote-debugging-pipe`` (stdlib only).

Chromium reads commands on fd 3 and writes replies and events on fd 4, each a
JSON message ending in a NUL byte. This is enough to open a page from disk,
watch for JavaScript errors and network requests, run a script and take a
screenshot, without Playwright or a websocket library.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
    "--remote-debugging-pipe",
)

# Moves the two pipe ends to fds 3 and 4 (via high numbers, so neither clobbers
# the other), then becomes the browser.
_EXEC_ON_FDS_3_4 = (
    "import fcntl, os, sys\n"
    "r = fcntl.fcntl(int(sys.argv[1]), fcntl.F_DUPFD, 10)\n"
    "w = fcntl.fcntl(int(sys.argv[2]), fcntl.F_DUPFD, 10)\n"
    "os.dup2(r, 3); os.dup2(w, 4); os.close(r); os.close(w)\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)


def find_chromium() -> str | None:
    """Debian's chromium (or another Chromium-based browser on PATH)."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


#: A tab: the CDP session id that routes its messages (flat mode).
Tab = str


class CdpError(RuntimeError):
    """The browser answered a command with an error, died, or did not answer in time."""


@dataclass
class PageReport:
    """What a page did while it was open."""

    exceptions: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    log_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return self.exceptions + self.console_errors + self.log_errors

    @property
    def remote_requests(self) -> list[str]:
        local = ("file:", "data:", "blob:", "about:")
        return [u for u in self.requests if not u.startswith(local)]


class Chromium:
    """One headless browser process driven over the DevTools pipe."""

    def __init__(self, exe: str, profile_dir: Path, *, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict] = []
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        self._log = open(profile_dir / "chromium.log", "wb")  # noqa: SIM115 - closed in close()
        args = [
            sys.executable,
            "-c",
            _EXEC_ON_FDS_3_4,
            str(to_browser_r),
            str(from_browser_w),
            exe,
            *FLAGS,
            f"--user-data-dir={profile_dir / 'profile'}",
        ]
        self.proc = subprocess.Popen(
            args,
            pass_fds=(to_browser_r, from_browser_w),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            process_group=0,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.send("Browser.getVersion")

    # -- protocol -----------------------------------------------------------------
    def send(self, method: str, params: dict | None = None, *, tab: Tab | None = None) -> dict:
        """Run one command, on the browser or on ``tab``; its result (CdpError on failure)."""
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if tab:
            msg["sessionId"] = tab
        data = json.dumps(msg).encode() + b"\0"
        while data:
            data = data[os.write(self._to_browser, data) :]
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise CdpError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._events.append(reply)

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CdpError("the browser did not answer in time")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise CdpError(f"the browser closed the pipe (exit code {self.proc.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def pump(self, seconds: float) -> None:
        """Read events for a while (they arrive between command replies too)."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                self._events.append(self._read(deadline))
            except CdpError as exc:
                if "in time" in str(exc):
                    return
                raise

    def wait_event(self, method: str, tab: Tab, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events_of(tab):
                if event.get("method") == method:
                    return event
            self._events.append(self._read(deadline))

    def events_of(self, tab: Tab) -> list[dict]:
        return [e for e in self._events if e.get("sessionId") == tab]

    # -- pages --------------------------------------------------------------------
    def open_page(self, url: str, *, width: int = 1400, height: int = 1000) -> str:
        """Open ``url`` in a new tab watched for errors and requests; return the tab."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        reply = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})
        tab: Tab = reply["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            self.send(f"{domain}.enable", tab=tab)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            tab=tab,
        )
        self.send("Page.navigate", {"url": url}, tab=tab)
        self.wait_event("Page.loadEventFired", tab, self.timeout)
        return tab

    def evaluate(self, tab: Tab, expression: str):
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            tab=tab,
        )
        if "exceptionDetails" in result:
            raise CdpError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, tab: Tab, expression: str, timeout: float) -> object:
        """Poll ``expression`` until it is truthy; return its last value either way."""
        deadline = time.monotonic() + timeout
        value = self.evaluate(tab, expression)
        while not value and time.monotonic() < deadline:
            self.pump(0.2)
            value = self.evaluate(tab, expression)
        return value

    def screenshot(
        self, tab: Tab, path: Path, *, top: float = 0, height: float | None = None
    ) -> Path:
        """A PNG of the page from ``top`` down ``height`` CSS pixels (default: to the end)."""
        size = self.send("Page.getLayoutMetrics", tab=tab)["cssContentSize"]
        height = size["height"] - top if height is None else min(height, size["height"] - top)
        params = {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": top, "width": size["width"], "height": height, "scale": 1},
        }
        data = self.send("Page.captureScreenshot", params, tab=tab)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def page_report(self, tab: Tab) -> PageReport:
        report = PageReport()
        for event in self.events_of(tab):
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                text = details.get("exception", {}).get("description") or details.get("text")
                report.exceptions.append(str(text))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                args = [a.get("value", a.get("description")) for a in params.get("args", [])]
                report.console_errors.append(" ".join(map(str, args)))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                entry = params["entry"]
                report.log_errors.append(f"{entry.get('text')} {entry.get('url', '')}".strip())
            elif method == "Network.requestWillBeSent":
                report.requests.append(params["request"]["url"])
        return report

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                try:
                    self.timeout = 5
                    self.send("Browser.close")
                except (CdpError, OSError):
                    pass
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    # Its own process group: the renderer and GPU processes go with it.
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(10)
        finally:
            for fd in (self._to_browser, self._from_browser):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._log.close()


def png_info(data: bytes, *, max_rows: int = 300) -> tuple[int, int, int]:
    """``(width, height, distinct colours)`` of an 8-bit RGB or RGBA PNG (stdlib only).

    Colours are counted in the first ``max_rows`` rows: decoding needs every row
    above, and pure Python is slow on a tall page.
    """
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert header is not None
    width, height = int.from_bytes(header[0:4], "big"), int.from_bytes(header[4:8], "big")
    depth, colour = header[8], header[9]
    if depth != 8 or colour not in (2, 6):
        raise ValueError(f"unsupported PNG (bit depth {depth}, colour type {colour})")
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    colours: set[bytes] = set()
    for y in range(min(height, max_rows)):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(kind, line, prev, bpp)
        if y % 4 == 0:  # every 4th row is plenty to tell a chart from a blank page
            colours.update(bytes(line[i : i + bpp]) for i in range(0, stride, bpp * 2))
        prev = line
    return width, height, len(colours)


def _unfilter(kind: int, line: bytearray, prev: bytearray, bpp: int) -> None:
    for i in range(len(line)):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + a) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + b) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (a + b) // 2) & 0xFF
        elif kind == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
            line[i] = (line[i] + pred) & 0xFF
