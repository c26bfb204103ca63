"""The console in a real headless Chromium against a real server process.

Log in with a key, find an object, the plot renders, approve a set, the audit log
shows it; a viewer sees no approve button and gets 403 when posting anyway.
"""

from __future__ import annotations

import json

import pytest
from live_server import live_server
from service_fleet import build

from headless_chromium import CdpError, Chromium

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    fleet = build(root)
    with live_server(fleet.store_dir, fleet.db, root / "serve.log") as server:
        yield fleet, server


@pytest.fixture(scope="module")
def browser(chromium, tmp_path_factory):
    driver = Chromium(chromium, tmp_path_factory.mktemp("chromium"))
    yield driver
    driver.close()


def until(browser: Chromium, tab: str, expression: str, tries: int = 300):
    """Poll ``expression`` (through page loads) until it is truthy; its last value."""
    value = None
    for _ in range(tries):
        try:
            value = browser.evaluate(tab, expression)
        except CdpError:  # the page is navigating: its context is gone for a moment
            value = None
        if value:
            return value
        browser.pump(0.1)
    return value


def submit(browser: Chromium, tab: str, form: str, **fields: str) -> None:
    """Fill ``fields`` of form ``#form`` and submit it like a click on its button."""
    script = "".join(
        f"document.querySelector('#{form} [name={name}]').value = {json.dumps(value)};"
        for name, value in fields.items()
    )
    browser.evaluate(tab, script + f"document.getElementById('{form}').requestSubmit();")


def at(path: str) -> str:
    return f"location.pathname === {json.dumps(path)} && document.readyState === 'complete'"


PLOT_RENDERED = (
    "(() => { const d = document.getElementById('plot');"
    " return !!d && d.classList.contains('js-plotly-plot') && !!d.querySelector('.main-svg')"
    " && d.querySelectorAll('g.trace').length > 2; })()"
)


def test_review_and_approve_in_the_browser(served, browser):
    fleet, server = served
    tab = browser.open_page(f"{server.url}/console/")
    assert until(browser, tab, at("/console/login"))
    submit(browser, tab, "login", key=fleet.keys["reviewer"])
    assert until(browser, tab, at("/console/") + " && !!document.getElementById('objects')")

    submit(browser, tab, "search", q="beta")
    found = "document.querySelectorAll('#objects tbody tr').length"
    assert until(browser, tab, f"location.search.includes('q=beta') && {found} === 1")
    browser.evaluate(tab, "document.querySelector('#objects a').click()")
    assert until(browser, tab, at("/console/objects/bb02"))
    assert until(browser, tab, PLOT_RENDERED)
    assert "Beta mail" in browser.evaluate(
        tab, "document.getElementById('object-title').textContent"
    )

    browser.evaluate(tab, f"location.href = '/console/sets/{fleet.draft}'")
    assert until(browser, tab, at(f"/console/sets/{fleet.draft}"))
    assert browser.evaluate(tab, "document.querySelectorAll('#diff tr.flagged').length") == 4
    submit(browser, tab, "approve", reason="reviewed in the browser")
    state = "document.getElementById('state') && document.getElementById('state').textContent"
    assert until(browser, tab, f"({state}) === 'approved'")
    assert "approved" in browser.evaluate(tab, "document.getElementById('flash').textContent")

    browser.evaluate(tab, "location.href = '/console/audit'")
    assert until(browser, tab, at("/console/audit"))
    first = browser.evaluate(tab, "document.querySelector('#audit tbody tr').textContent")
    assert "reviewer-key" in first and "approve" in first and "reviewed in the browser" in first

    report = browser.page_report(tab)
    assert report.errors == []
    assert report.requests and all(url.startswith(server.url) for url in report.requests)


def test_a_viewer_has_no_approve_button_and_is_refused(served, browser):
    fleet, server = served
    tab = browser.open_page(f"{server.url}/console/login")
    if browser.evaluate(tab, "!!document.querySelector('form.who')"):  # still logged in
        browser.evaluate(tab, "document.querySelector('form.who').requestSubmit()")
        assert until(browser, tab, at("/console/login") + " && !!document.getElementById('key')")
    submit(browser, tab, "login", key=fleet.keys["viewer"])
    assert until(browser, tab, at("/console/") + " && !!document.getElementById('who')")
    assert "viewer" in browser.evaluate(tab, "document.getElementById('who').textContent")
    browser.evaluate(tab, f"location.href = '/console/sets/{fleet.approved}'")
    assert until(browser, tab, at(f"/console/sets/{fleet.approved}"))
    assert browser.evaluate(tab, "document.getElementById('approve-button')") is None
    assert browser.evaluate(tab, "!!document.getElementById('read-only')")
    status = browser.evaluate(
        tab,
        f"""fetch('/console/sets/{fleet.approved}/approve', {{method: 'POST',
            body: new URLSearchParams({{reason: 'sneaky',
                csrf: document.querySelector('[name=csrf]').value}})}}).then(r => r.status)""",
    )
    assert status == 403
