"""clinical: versions of the signed readout report (immutable; signatures in ``signature``)

The database refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL) of a report version, on
both engines, with the guard of the dataset versions (migration 0003).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 02:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

TABLE = "clinical_report_version"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("dataset_version_id", sa.Integer(), nullable=False),
        sa.Column("inputs_hash", sa.String(length=64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("generated_by", sa.String(length=150), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_version_id"],
            ["clinical_dataset_version.id"],
            name=op.f("fk_clinical_report_version_dataset_version_id_clinical_dataset_version"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_clinical_report_version_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["clinical_study.id"],
            name=op.f("fk_clinical_report_version_study_id_clinical_study"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinical_report_version")),
        sa.UniqueConstraint(
            "study_id", "number", name=op.f("uq_clinical_report_version_study_id_number")
        ),
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_clinical_report_version_organisation_id"),
            ["organisation_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_clinical_report_version_study_id"), ["study_id"], unique=False
        )
    _create_triggers()


def downgrade() -> None:
    _drop_triggers()
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clinical_report_version_study_id"))
        batch_op.drop_index(batch_op.f("ix_clinical_report_version_organisation_id"))
    op.drop_table(TABLE)


def _create_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {TABLE}_no_{verb.lower()} BEFORE {verb} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, '{TABLE} is immutable: {verb} refused'); END"
            )
        return
    # clinical_dataset_refuse() (migration 0003) names the table and the operation refused
    op.execute(
        f"CREATE TRIGGER {TABLE}_no_update_delete BEFORE UPDATE OR DELETE ON {TABLE} "
        "FOR EACH ROW EXECUTE FUNCTION clinical_dataset_refuse()"
    )
    op.execute(
        f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
        "FOR EACH STATEMENT EXECUTE FUNCTION clinical_dataset_refuse()"
    )


def _drop_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_{verb}")
        return
    op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_update_delete ON {TABLE}")
    op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE}")
