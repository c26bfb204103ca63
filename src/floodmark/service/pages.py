"""The web console: server-rendered pages under ``/console``.

Log in with a key; the session cookie holds its id. Reads need any role; the forms
that write (approve, override, log out) carry the session's CSRF token and are
checked for the role again on the server: a hidden button is not a permission.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import plotly
import polars as pl
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from floodmark.registry import list_sets
from floodmark.registry.keys import KeyInfo, active_key, find_key
from floodmark.report.style import fmt_number
from floodmark.schema import LEVELS
from floodmark.service import queries
from floodmark.service.auth import SESSION_KEY, check_csrf, csrf_token
from floodmark.service.errors import ApiError
from floodmark.service.fleet import Fleet

TEMPLATES = Jinja2Templates(directory=Path(__file__).with_name("templates"))
TEMPLATES.env.filters["num"] = fmt_number
#: plotly.js as the plotly package ships it: the console never loads a script from elsewhere.
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
#: Rows of a diff the review page shows at most (the export has them all).
REVIEW_ROWS = 500
OBJECTS_PER_PAGE = 50

router = APIRouter(prefix="/console", include_in_schema=False)


class LoginRequired(Exception):
    """No valid console session: the page handler answers with the login page."""


def session_key(request: Request) -> KeyInfo:
    key_id = request.session.get(SESSION_KEY)
    key = active_key(request.app.state.fleet.registry, key_id) if isinstance(key_id, int) else None
    if key is None:
        request.session.pop(SESSION_KEY, None)
        raise LoginRequired
    request.state.key = key
    return key


SessionKey = Annotated[KeyInfo, Depends(session_key)]


def render(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    key = getattr(request.state, "key", None)
    context |= {
        "key": key,
        "can_review": key is not None and key.can("reviewer"),
        "csrf": csrf_token(request),
        "flash": request.session.pop("flash", None),
        "levels": LEVELS,
    }
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", status=status, status_code=status, message=message)


def install(app) -> None:
    """The console's own answers: the login page without a session, errors as HTML."""

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> RedirectResponse:
        return RedirectResponse(f"/console/login?next={request.url.path}", status_code=303)

    app.state.html_error = error_page


def _fleet(request: Request) -> Fleet:
    return request.app.state.fleet


def _redirect(path: str, flash: str | None = None, request: Request | None = None) -> Response:
    if flash and request is not None:
        request.session["flash"] = flash
    return RedirectResponse(path, status_code=303)


# -- login ------------------------------------------------------------------------
@router.get("/login")
def login_page(request: Request, next: str = "/console/") -> HTMLResponse:  # noqa: A002
    return render(request, "login.html", next=_local(next))


@router.post("/login")
def login(
    request: Request,
    key: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "/console/",  # noqa: A002
) -> Response:
    check_csrf(request, csrf)
    throttle = request.app.state.login_throttle
    client = request.client.host if request.client else "unknown"
    registry = request.app.state.fleet.registry
    throttle.check(registry, client)
    found = find_key(registry, key.strip())
    if found is None:
        throttle.failed(registry, client)
        return render(request, "login.html", status=401, next=_local(next), failed=True)
    request.session.clear()  # a fresh session (and CSRF token) for the new identity
    request.session[SESSION_KEY] = found.id
    return _redirect(_local(next))


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    check_csrf(request, csrf)
    request.session.clear()
    return _redirect("/console/login")


def _local(path: str) -> str:
    """Only a path of this console (a login link must not send anyone elsewhere)."""
    return path if path.startswith("/console/") and "//" not in path else "/console/"


# -- reading ----------------------------------------------------------------------
@router.get("/")
def fleet_page(
    request: Request,
    key: SessionKey,
    q: Annotated[str | None, Query(max_length=256)] = None,
    cursor: Annotated[str | None, Query(max_length=256)] = None,
) -> HTMLResponse:
    fleet = _fleet(request)
    page = queries.object_page(fleet, q, OBJECTS_PER_PAGE, cursor)
    sets = list_sets(fleet.registry)
    approved = sets.filter(state="approved")
    newest_approved = approved["id"][0] if approved.height else 0
    snap = fleet.snapshot()
    return render(
        request,
        "fleet.html",
        q=q or "",
        page=page,
        sets=sets.sort("id", descending=True).to_dicts(),
        to_review=sets.filter((pl.col("state") == "draft") & (pl.col("id") > newest_approved))[
            "id"
        ].to_list(),
        counts={
            "objects": fleet.objects().height,
            "series": sum(part.height for part in snap.by_object.values()),
            "sets": sets.height,
        },
    )


@router.get("/objects/{prediction_id}")
def object_page(request: Request, key: SessionKey, prediction_id: str) -> HTMLResponse:
    detail = queries.object_detail(_fleet(request), prediction_id)
    by_set = {
        which: {(r["vector"], r["metric"]): r for r in detail[which]["rows"]}
        if detail[which]
        else {}
        for which in ("latest", "approved")
    }
    return render(request, "object.html", detail=detail, by_set=by_set)


@router.get("/objects/{prediction_id}/plot/{vector}/{metric}")
def plot(
    request: Request, key: SessionKey, prediction_id: str, vector: str, metric: str
) -> Response:
    """The figure of ``floodmark plot`` as Plotly JSON, with the latest set's levels."""
    from floodmark.report import series_figure

    fleet = _fleet(request)
    snap = fleet.snapshot()
    catalog = snap.by_object.get(prediction_id)
    labels = None if catalog is None else catalog.filter(vector=vector, metric=metric)
    if labels is None or labels.height == 0:
        raise ApiError(404, f"no series {prediction_id}/{vector}/{metric}")
    features = snap.features.get(prediction_id)
    latest = queries.object_detail(fleet, prediction_id)["latest"]
    level_row = next(
        (
            r
            for r in (latest or {}).get("rows", [])
            if (r["vector"], r["metric"]) == (vector, metric)
        ),
        None,
    )
    figure = series_figure(
        snap.store.read_series(prediction_id, vector, metric),
        thresholds_row=level_row,
        labels_row=labels,
        features_row=None if features is None else features.filter(vector=vector, metric=metric),
        blocked_threshold=fleet.blocked_threshold,
    )
    return Response(figure.to_json(), media_type="application/json")


@router.get("/plotly.min.js")
def plotly_js() -> FileResponse:
    return FileResponse(PLOTLY_JS, media_type="text/javascript")


@router.get("/sets/{set_id}")
def review_page(
    request: Request,
    key: SessionKey,
    set_id: str,
    against: Annotated[str, Query(max_length=32)] = "approved",
    everything: Annotated[bool, Query(alias="all")] = False,
) -> HTMLResponse:
    fleet = _fleet(request)
    view = fleet.view()
    number, state = queries.resolve(view, set_id)
    set_id = str(number)
    try:
        queries.resolve(view, against)
        has_base = True
    except ApiError:
        has_base = False
    diff = summary = None
    if has_base:
        _, against_id, frame = queries.diff_frame(fleet, set_id, against)
        from floodmark.registry import review_summary

        summary = review_summary(frame)
        shown = frame if everything else frame.filter("needs_review")
        ratio_away = (pl.col("ratio").log().abs()).fill_null(float("inf")).fill_nan(0.0)
        shown = shown.sort(
            [pl.col("needs_review"), ratio_away], descending=[True, True], nulls_last=True
        )
        diff = {
            "against": against_id,
            "rows": shown.head(REVIEW_ROWS).to_dicts(),
            "more": max(0, shown.height - REVIEW_ROWS),
            "flagged": int(frame["needs_review"].sum()),
        }
    return render(
        request,
        "review.html",
        set_id=int(set_id),
        state=state,
        diff=diff,
        summary=summary,
        everything=everything,
        formats=queries.EXPORT_MEDIA,
    )


@router.get("/sets/{set_id}/export")
def export_download(
    request: Request,
    key: SessionKey,
    set_id: str,
    format: str = "csv",  # noqa: A002
    level: str | None = None,
    bw_unit: str = "mbps",
) -> Response:
    if format not in queries.EXPORT_MEDIA or bw_unit not in ("bps", "kbps", "mbps"):
        raise ApiError(422, "format or bw_unit is not one floodmark export knows")
    if level is not None and level not in LEVELS:
        raise ApiError(422, f"level must be one of {', '.join(LEVELS)}")
    name, content = queries.export(_fleet(request), set_id, format, level or None, bw_unit)
    return queries.download(format, name, content)


@router.get("/audit")
def audit_page(
    request: Request,
    key: SessionKey,
    before: Annotated[int | None, Query(ge=1, le=queries.MAX_ID)] = None,
) -> HTMLResponse:
    page = queries.audit_page(_fleet(request), 200, before)
    return render(request, "audit.html", page=page)


# -- writing ----------------------------------------------------------------------
def _reviewer(request: Request, key: KeyInfo, csrf: str) -> None:
    check_csrf(request, csrf)
    if not key.can("reviewer"):
        raise ApiError(403, f"key {key.name!r} is a {key.role}: only reviewers approve or override")


@router.post("/sets/{set_id}/approve")
def approve(
    request: Request,
    key: SessionKey,
    set_id: str,
    reason: Annotated[str, Form(max_length=2000)],
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    _reviewer(request, key, csrf)
    if not reason.strip():
        raise ApiError(422, "an approval needs a reason")
    done = queries.approve(_fleet(request), set_id, reason.strip(), key)
    note = f"set {done['set_id']} approved" if done["changed"] else "already approved"
    return _redirect(f"/console/sets/{done['set_id']}", note, request)


@router.post("/sets/{set_id}/overrides")
def override(
    request: Request,
    key: SessionKey,
    set_id: str,
    prediction_id: Annotated[str, Form(max_length=256)],
    vector: Annotated[str, Form(max_length=32)],
    metric: Annotated[str, Form(max_length=16)],
    level: Annotated[str, Form(max_length=8)],
    value: Annotated[float, Form(ge=0, allow_inf_nan=False)],
    reason: Annotated[str, Form(max_length=2000)],
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    _reviewer(request, key, csrf)
    if level not in LEVELS:
        raise ApiError(422, f"level must be one of {', '.join(LEVELS)}")
    if not reason.strip():
        raise ApiError(422, "an override needs a reason")
    body = {
        "prediction_id": prediction_id,
        "vector": vector,
        "metric": metric,
        "level": level,
        "value": value,
        "reason": reason.strip(),
    }
    done = queries.override(_fleet(request), set_id, body, key)
    note = f"{done['series']} {level} set to {value:g} (was {fmt_number(done['before'])})"
    return _redirect(f"/console/sets/{done['set_id']}", note, request)
