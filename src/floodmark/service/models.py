"""The API's request and response bodies (they make the OpenAPI document)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import orjson
from fastapi.responses import Response
from pydantic import BaseModel, Field

Level = Literal["ss", "sc", "nw", "rl"]


class ObjectSummary(BaseModel):
    prediction_id: str
    name: str | None
    networks: list[str]
    series: int = Field(description="Series the store holds for it.")


class ObjectPage(BaseModel):
    items: list[ObjectSummary]
    total: int = Field(description="Objects matching the query.")
    next_cursor: str | None = Field(description="Pass as cursor for the next page.")


class SeriesInfo(BaseModel):
    vector: str
    metric: str
    n_samples: int
    first_timestamp: dt.datetime | None
    last_timestamp: dt.datetime | None
    median_step_s: float | None
    labels: dict[str, float | None] = Field(description="Expert labels from the inputs.")


class ThresholdRow(BaseModel):
    prediction_id: str
    vector: str
    metric: str
    method: str
    ss: float | None
    sc: float | None
    nw: float | None
    rl: float | None
    basis: str | None
    fallback: str | None
    expected_fa_per_day_ss: float | None
    expected_fa_per_day_sc: float | None
    expected_fa_per_day_nw: float | None
    expected_fa_per_day_rl: float | None


class SetThresholds(BaseModel):
    set_id: int
    state: str
    rows: list[ThresholdRow]


class ObjectDetail(BaseModel):
    object: ObjectSummary
    series: list[SeriesInfo]
    features: list[dict[str, Any]] = Field(
        description="Its rows of the features table, when the server has one."
    )
    latest: SetThresholds | None = Field(description="The newest set's thresholds for it.")
    approved: SetThresholds | None = Field(description="The approved set's thresholds for it.")


class SeriesData(BaseModel):
    prediction_id: str
    vector: str
    metric: str
    samples: int = Field(description="Samples in [start, end] before downsampling.")
    downsampled: bool
    timestamp: list[dt.datetime]
    passed: list[float]
    blocked: list[float]
    attack: list[bool] = Field(description="blocked above the server's --blocked-threshold.")


class SetInfo(BaseModel):
    id: int
    created: dt.datetime
    method: str
    series: int
    state: str
    overrides: int
    source: str
    note: str | None


class ThresholdPage(BaseModel):
    set_id: int
    state: str
    items: list[ThresholdRow]
    total: int
    next_cursor: str | None


class DiffRow(BaseModel):
    prediction_id: str
    vector: str
    metric: str
    level: str
    old: float | None
    new: float | None
    ratio: float | None = Field(description="new / old; null when a side is missing or old is 0.")
    change: str
    needs_review: bool


class DiffPage(BaseModel):
    set_id: int
    against: int
    summary: str
    needs_review: int
    total: int
    items: list[DiffRow]
    next_cursor: str | None


class ApproveRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, pattern=r"\S")


class ApproveResult(BaseModel):
    set_id: int
    superseded: list[int]
    changed: bool = Field(description="False when the set was approved already.")


class OverrideRequest(BaseModel):
    prediction_id: str = Field(min_length=1, max_length=256)
    vector: str = Field(min_length=1, max_length=32)
    metric: str = Field(min_length=1, max_length=16)
    level: Level
    value: float = Field(ge=0, allow_inf_nan=False)
    reason: str = Field(min_length=1, max_length=2000, pattern=r"\S")


class OverrideResult(BaseModel):
    set_id: int
    series: str
    level: str
    before: float | None
    after: float


class AuditRow(BaseModel):
    id: int
    at: dt.datetime
    who: str
    action: str
    what: str
    before: Any
    after: Any


class AuditPage(BaseModel):
    items: list[AuditRow] = Field(description="Newest first.")
    next_before: int | None = Field(description="Pass as before for the next (older) page.")


class KeyRow(BaseModel):
    id: int
    name: str
    role: str
    prefix: str = Field(description="The key's first characters.")
    created: dt.datetime
    revoked: dt.datetime | None


class KeyRequest(BaseModel):
    name: str = Field(min_length=1, max_length=256, pattern=r"\S")
    role: Literal["viewer", "reviewer", "admin"]


class NewKey(BaseModel):
    id: int
    name: str
    role: str
    key: str = Field(description="The key itself, shown this once.")


class Revoked(BaseModel):
    id: int
    changed: bool = Field(description="False when it was revoked already.")


class Health(BaseModel):
    status: Literal["ok"]


class FastJSON(Response):
    """JSON by orjson: numpy arrays as lists, times in UTC with a ``Z``, NaN as null.

    The routes build their bodies in the shape of their ``response_model`` (the
    schema tests check it) and answer with this, skipping a second validation:
    a series of 8,640 points is serialised from its arrays directly.
    """

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return encode_json(content)


def encode_json(content: Any) -> bytes:
    """``content`` as FastJSON writes it (parts encoded once are ``orjson.Fragment``s)."""
    return orjson.dumps(
        content, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z
    )
