"""The JSON API under ``/api/v1``: objects, series, sets, diffs, writes, export, audit."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from floodmark.registry.keys import KeyInfo
from floodmark.service import queries
from floodmark.service.auth import View, require
from floodmark.service.errors import ERROR_RESPONSES, ErrorResponse
from floodmark.service.fleet import Fleet
from floodmark.service.models import (
    ApproveRequest,
    ApproveResult,
    AuditPage,
    DiffPage,
    FastJSON,
    KeyRequest,
    KeyRow,
    NewKey,
    ObjectDetail,
    ObjectPage,
    OverrideRequest,
    OverrideResult,
    Revoked,
    SeriesData,
    SetInfo,
    ThresholdPage,
)

Viewer = Annotated[KeyInfo, Depends(require("viewer"))]
Reviewer = Annotated[KeyInfo, Depends(require("reviewer"))]
Admin = Annotated[KeyInfo, Depends(require("admin"))]
Limit = Annotated[int, Query(ge=1, le=10_000, description="Rows per page.")]
Cursor = Annotated[
    str | None, Query(pattern=r"^[0-9]{1,12}$", description="next_cursor of the last page.")
]
SetRef = Annotated[str, "A set id, `approved` or `latest`."]
Format = Literal["fastnetmon", "fastnetmon-json", "csv", "json"]
LevelQuery = Literal["ss", "sc", "nw", "rl"]
Conflict = {409: {"model": ErrorResponse, "description": "conflict"}}

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


async def fleet_of(request: Request) -> Fleet:
    return request.app.state.fleet


FleetDep = Annotated[Fleet, Depends(fleet_of)]


@router.get("/objects", response_model=ObjectPage, tags=["objects"])
async def list_objects(
    fleet: FleetDep,
    view: View,
    _key: Viewer,
    q: Annotated[str | None, Query(max_length=256, description="Part of an id or name.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=256, description="next_cursor of the last page.")
    ] = None,
):
    """Objects of the store and the registry, sorted by id, filtered by ``q``."""
    return FastJSON(queries.object_page(fleet, q, limit, cursor, view))


@router.get("/objects/{prediction_id}", response_model=ObjectDetail, tags=["objects"])
async def get_object(fleet: FleetDep, view: View, _key: Viewer, prediction_id: str):
    """One object: its series, features, and its thresholds in the latest and approved sets."""
    return FastJSON(queries.object_detail(fleet, prediction_id, view, encoded=True))


@router.get(
    "/objects/{prediction_id}/series/{vector}/{metric}",
    response_model=SeriesData,
    tags=["objects"],
)
async def get_series(
    fleet: FleetDep,
    _key: Viewer,
    prediction_id: str,
    vector: str,
    metric: str,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    max_points: Annotated[int, Query(ge=2, le=100_000)] = 2000,
):
    """One series' passed, blocked and attack flags in [start, end], at most ``max_points``
    points (bins of consecutive samples, each shown by its peak)."""
    return FastJSON(
        queries.series_data(
            fleet, prediction_id, vector, metric, start=start, end=end, max_points=max_points
        )
    )


@router.get("/sets", response_model=list[SetInfo], tags=["sets"])
def list_sets(fleet: FleetDep, _key: Viewer):
    """Every threshold set, oldest first."""
    from floodmark.registry import list_sets

    return FastJSON(list_sets(fleet.registry).to_dicts())


@router.get("/sets/{set_id}/thresholds", response_model=ThresholdPage, tags=["sets"])
async def get_thresholds(
    fleet: FleetDep,
    view: View,
    _key: Viewer,
    set_id: SetRef,
    prediction_id: Annotated[str | None, Query(max_length=256)] = None,
    vector: Annotated[str | None, Query(max_length=32)] = None,
    metric: Annotated[str | None, Query(max_length=16)] = None,
    limit: Limit = 1000,
    cursor: Cursor = None,
):
    """A set's thresholds with overrides applied, filtered by series."""
    filters = {"prediction_id": prediction_id, "vector": vector, "metric": metric}
    return FastJSON(queries.set_page(fleet, set_id, filters, limit, cursor, view))


@router.get("/sets/{set_id}/diff", response_model=DiffPage, tags=["sets"])
def get_diff(
    fleet: FleetDep,
    _key: Viewer,
    set_id: SetRef,
    against: Annotated[str, Query(max_length=32, description="Set id, approved or latest.")] = (
        "approved"
    ),
    needs_review: Annotated[bool, Query(description="Only values that need review.")] = False,
    limit: Limit = 1000,
    cursor: Cursor = None,
):
    """Set ``set_id`` against another, level by level, with what needs review."""
    return FastJSON(queries.diff_page(fleet, set_id, against, needs_review, limit, cursor))


@router.post(
    "/sets/{set_id}/approve", response_model=ApproveResult, tags=["writes"], responses=Conflict
)
def post_approve(fleet: FleetDep, key: Reviewer, set_id: SetRef, body: ApproveRequest):
    """Approve a set (the approved one before it is superseded); audited with the key's name."""
    return queries.approve(fleet, set_id, body.reason, key)


@router.post(
    "/sets/{set_id}/overrides", response_model=OverrideResult, tags=["writes"], responses=Conflict
)
def post_override(fleet: FleetDep, key: Reviewer, set_id: SetRef, body: OverrideRequest):
    """Set one level of one series (keeping ss <= sc <= nw <= rl); audited."""
    return queries.override(fleet, set_id, body.model_dump(), key)


@router.get(
    "/sets/{set_id}/export",
    response_class=Response,
    tags=["sets"],
    responses={
        200: {
            "description": "The exported file (fastnetmon: a zip with the configuration and "
            "its networks list).",
            "content": {media: {} for media, _ in queries.EXPORT_MEDIA.values()},
        }
    },
)
def get_export(
    fleet: FleetDep,
    _key: Viewer,
    set_id: SetRef,
    format: Format = "csv",  # noqa: A002 - the API's name for it, as the CLI's --format
    level: LevelQuery | None = None,
    bw_unit: Literal["bps", "kbps", "mbps"] = "mbps",
):
    """A set as ``floodmark export`` writes it."""
    name, content = queries.export(fleet, set_id, format, level, bw_unit)
    return queries.download(format, name, content)


@router.get("/audit", response_model=AuditPage, tags=["audit"])
def get_audit(
    fleet: FleetDep,
    _key: Viewer,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[
        int | None, Query(ge=1, le=queries.MAX_ID, description="Rows older than this id.")
    ] = None,
):
    """The audit log, newest first."""
    return FastJSON(queries.audit_page(fleet, limit, before))


@router.get("/keys", response_model=list[KeyRow], tags=["keys"])
def list_keys(fleet: FleetDep, _key: Admin):
    """Every key, revoked ones too (never a secret)."""
    from floodmark.registry.keys import list_keys

    return FastJSON(list_keys(fleet.registry).to_dicts())


@router.post("/keys", response_model=NewKey, tags=["keys"])
def create_key(fleet: FleetDep, key: Admin, body: KeyRequest):
    """A new key: the answer holds it, the only time it is shown; audited."""
    from floodmark.registry.keys import create_key

    made, secret = create_key(fleet.registry, name=body.name, role=body.role, by=key.name)
    return {"id": made.id, "name": made.name, "role": made.role, "key": secret}


@router.post("/keys/{key_id}/revoke", response_model=Revoked, tags=["keys"], responses=Conflict)
def revoke_key(fleet: FleetDep, key: Admin, key_id: Annotated[int, Path(ge=1, le=queries.MAX_ID)]):
    """Revoke a key (not the one making the request); audited."""
    return queries.revoke(fleet, key_id, key)
