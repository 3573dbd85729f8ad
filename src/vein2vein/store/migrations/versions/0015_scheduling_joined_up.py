"""scheduling joined up (issue 12): the suite of a custody step that happens in a GMP suite,
the apheresis collection (1, 2, ...) each custody step and each order is in (a new apheresis
after a failed batch starts collection 2), and the time a batch failed.

Columns are added with plain ``ALTER TABLE ... ADD COLUMN`` on both engines (no table copy), so
the append-only triggers of ``coi_custody_event`` and the locking triggers of ``mfg_batch``
stay as they are; existing rows are in collection 1.

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-06 20:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("coi_custody_event", sa.Column("suite", sa.String(length=64), nullable=True))
    op.add_column(
        "coi_custody_event",
        sa.Column("collection", sa.Integer(), nullable=False, server_default="1"),
    )
    op.add_column(
        "coi_order", sa.Column("collection", sa.Integer(), nullable=False, server_default="1")
    )
    op.add_column("mfg_batch", sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # plain ALTER TABLE ... DROP COLUMN (SQLite 3.35 and later): the triggers stay
    op.drop_column("mfg_batch", "failed_at")
    op.drop_column("coi_order", "collection")
    op.drop_column("coi_custody_event", "collection")
    op.drop_column("coi_custody_event", "suite")
