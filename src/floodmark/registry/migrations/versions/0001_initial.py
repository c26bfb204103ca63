"""The registry's tables: threshold sets and their thresholds, objects, approvals,
overrides, the audit log and the write lock.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the types at this revision (the models may change later).
_TS = sa.DateTime(timezone=True)
_LEVELS = ("ss", "sc", "nw", "rl")


def _set_id(**options: bool) -> sa.Column:
    """The column naming the set a row belongs to (deleted with it)."""
    return sa.Column(
        "set_id",
        sa.Integer(),
        sa.ForeignKey("threshold_sets.id", ondelete="CASCADE"),
        **options,
    )


def upgrade() -> None:
    op.create_table(
        "threshold_sets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created", _TS, nullable=False),
        sa.Column("method", sa.String(64), nullable=False),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("source_hash", sa.String(64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.CheckConstraint(
            sa.column("state").in_(("draft", "approved", "superseded")),
            name="ck_threshold_sets_state",
        ),
        sa.UniqueConstraint("source_hash", name="uq_threshold_sets_source_hash"),
    )
    op.create_table(
        "thresholds",
        _set_id(primary_key=True),
        sa.Column("prediction_id", sa.String(256), primary_key=True),
        sa.Column("vector", sa.String(32), primary_key=True),
        sa.Column("metric", sa.String(16), primary_key=True),
        sa.Column("method", sa.String(64), nullable=False),
        *(sa.Column(level, sa.Double(), nullable=True) for level in _LEVELS),
        sa.Column("basis", sa.Text(), nullable=True),
        sa.Column("fallback", sa.Text(), nullable=True),
        *(sa.Column(f"expected_fa_per_day_{lv}", sa.Double(), nullable=True) for lv in _LEVELS),
    )
    op.create_table(
        "objects",
        sa.Column("prediction_id", sa.String(256), primary_key=True),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("networks", sa.JSON(), nullable=False),
        sa.Column("updated", _TS, nullable=False),
    )
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer(), primary_key=True),
        _set_id(nullable=False),
        sa.Column("by", sa.String(256), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", _TS, nullable=False),
    )
    op.create_table(
        "overrides",
        sa.Column("id", sa.Integer(), primary_key=True),
        _set_id(nullable=False),
        sa.Column("prediction_id", sa.String(256), nullable=False),
        sa.Column("vector", sa.String(32), nullable=False),
        sa.Column("metric", sa.String(16), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("by", sa.String(256), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", _TS, nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", _TS, nullable=False),
        sa.Column("who", sa.String(256), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("what", sa.String(1024), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
    )
    lock = op.create_table(
        "write_lock",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("writes", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(lock, [{"id": 1, "writes": 0}])


def downgrade() -> None:
    for table in (
        "write_lock",
        "audit_log",
        "overrides",
        "approvals",
        "objects",
        "thresholds",
        "threshold_sets",
    ):
        op.drop_table(table)
