"""At most one approved set: a unique index over the rows whose state is 'approved'.

Approvals already run one at a time (the write lock); this makes the database itself
refuse a second approved set, whatever writes it.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_APPROVED = sa.column("state") == "approved"


def upgrade() -> None:
    op.create_index(
        "ix_threshold_sets_one_approved",
        "threshold_sets",
        ["state"],
        unique=True,
        sqlite_where=_APPROVED,
        postgresql_where=_APPROVED,
    )


def downgrade() -> None:
    op.drop_index("ix_threshold_sets_one_approved", table_name="threshold_sets")
