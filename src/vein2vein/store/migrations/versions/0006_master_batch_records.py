"""master batch records: one row per version of a product's process at a CDMO site, its content
as canonical JSON and that content's SHA-256 (signed by author, reviewer and approver through
the ``signature`` table, record type ``mbr``)

Revision ID: 0006
Revises: 0009
Create Date: 2026-12-08 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mbr",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("based_on_id", sa.Integer(), nullable=True),
        sa.Column("source_file", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=150), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["based_on_id"], ["mbr.id"], name=op.f("fk_mbr_based_on_id_mbr")),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_mbr_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["program_id"], ["program.id"], name=op.f("fk_mbr_program_id_program")
        ),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_mbr_site_id_site")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mbr")),
        sa.UniqueConstraint(
            "program_id", "site_id", "version", name=op.f("uq_mbr_program_id_site_id_version")
        ),
    )
    with op.batch_alter_table("mbr", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mbr_organisation_id"), ["organisation_id"])
        batch_op.create_index(batch_op.f("ix_mbr_program_id"), ["program_id"])
        batch_op.create_index(batch_op.f("ix_mbr_site_id"), ["site_id"])


def downgrade() -> None:
    with op.batch_alter_table("mbr", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mbr_site_id"))
        batch_op.drop_index(batch_op.f("ix_mbr_program_id"))
        batch_op.drop_index(batch_op.f("ix_mbr_organisation_id"))
    op.drop_table("mbr")
