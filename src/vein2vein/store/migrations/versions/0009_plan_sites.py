"""planning by site: the site that receives each facility's material, shipping routes between
sites (issue 11)

- ``sched_receiving_site``: the CDMO's manufacturing site that receives the starting material of
  the orders bound to one of its facilities (FIN), one row per facility;
- ``sched_site_transfer``: days of shipping material from one manufacturing site to another
  (one way; ``days`` empty: the route is closed).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-09 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sched_receiving_site",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=150), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["coi_facility.id"],
            name=op.f("fk_sched_receiving_site_facility_id_coi_facility"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_sched_receiving_site_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_sched_receiving_site_site_id_site")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sched_receiving_site")),
        sa.UniqueConstraint("facility_id", name=op.f("uq_sched_receiving_site_facility_id")),
    )
    with op.batch_alter_table("sched_receiving_site", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sched_receiving_site_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sched_receiving_site_site_id"), ["site_id"], unique=False
        )

    op.create_table(
        "sched_site_transfer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("from_site_id", sa.Integer(), nullable=False),
        sa.Column("to_site_id", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=150), nullable=False),
        sa.ForeignKeyConstraint(
            ["from_site_id"], ["site.id"], name=op.f("fk_sched_site_transfer_from_site_id_site")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_sched_site_transfer_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["to_site_id"], ["site.id"], name=op.f("fk_sched_site_transfer_to_site_id_site")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sched_site_transfer")),
        sa.UniqueConstraint(
            "organisation_id",
            "from_site_id",
            "to_site_id",
            name=op.f("uq_sched_site_transfer_organisation_id_from_site_id_to_site_id"),
        ),
    )
    with op.batch_alter_table("sched_site_transfer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sched_site_transfer_organisation_id"), ["organisation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sched_site_transfer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sched_site_transfer_organisation_id"))
    op.drop_table("sched_site_transfer")
    with op.batch_alter_table("sched_receiving_site", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sched_receiving_site_site_id"))
        batch_op.drop_index(batch_op.f("ix_sched_receiving_site_organisation_id"))
    op.drop_table("sched_receiving_site")
