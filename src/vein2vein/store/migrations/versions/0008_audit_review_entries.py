"""audit-trail reviews signed over the entries they cover (issue 11)

- ``audit_review.entries_sha256``: SHA-256 over the ``SEQ:HASH`` lines of the entries a review
  covers, in sequence order (``store.audit.hashes_digest``), recorded when the review is made.
  A review's signed content then includes the digest of those entries as they are when signed,
  so the signature can be checked against them later. Reviews made before keep no digest (and
  their signatures keep the content they were signed over).

Revision ID: 0008
Revises: 0012
Create Date: 2026-12-08 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_review", schema=None) as batch_op:
        batch_op.add_column(sa.Column("entries_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_review", schema=None) as batch_op:
        batch_op.drop_column("entries_sha256")
