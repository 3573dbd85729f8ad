"""clinical: studies and immutable dataset versions (raw files as bytes with SHA-256)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 02:20:27.519746
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clinical_study",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=150), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_clinical_study_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["program_id"], ["program.id"], name=op.f("fk_clinical_study_program_id_program")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinical_study")),
        sa.UniqueConstraint(
            "organisation_id", "code", name=op.f("uq_clinical_study_organisation_id_code")
        ),
    )
    with op.batch_alter_table("clinical_study", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_clinical_study_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_clinical_study_program_id"), ["program_id"], unique=False
        )

    op.create_table(
        "clinical_dataset_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("evaluator", sa.String(length=64), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("n_subjects", sa.Integer(), nullable=False),
        sa.Column("n_lesions", sa.Integer(), nullable=False),
        sa.Column("n_assessments", sa.Integer(), nullable=False),
        sa.Column("n_new_lesions", sa.Integer(), nullable=False),
        sa.Column("n_investigator_responses", sa.Integer(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("ignored_files", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_by", sa.String(length=150), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_clinical_dataset_version_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["clinical_study.id"],
            name=op.f("fk_clinical_dataset_version_study_id_clinical_study"),
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["app_user.id"],
            name=op.f("fk_clinical_dataset_version_uploaded_by_id_app_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinical_dataset_version")),
        sa.UniqueConstraint(
            "study_id", "version", name=op.f("uq_clinical_dataset_version_study_id_version")
        ),
    )
    with op.batch_alter_table("clinical_dataset_version", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_clinical_dataset_version_organisation_id"),
            ["organisation_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_clinical_dataset_version_study_id"), ["study_id"], unique=False
        )

    op.create_table(
        "clinical_dataset_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_version_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_version_id"],
            ["clinical_dataset_version.id"],
            name=op.f("fk_clinical_dataset_file_dataset_version_id_clinical_dataset_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinical_dataset_file")),
        sa.UniqueConstraint(
            "dataset_version_id",
            "name",
            name=op.f("uq_clinical_dataset_file_dataset_version_id_name"),
        ),
    )
    with op.batch_alter_table("clinical_dataset_file", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_clinical_dataset_file_dataset_version_id"),
            ["dataset_version_id"],
            unique=False,
        )

    _create_triggers()


def downgrade() -> None:
    _drop_triggers()
    with op.batch_alter_table("clinical_dataset_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clinical_dataset_file_dataset_version_id"))

    op.drop_table("clinical_dataset_file")
    with op.batch_alter_table("clinical_dataset_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clinical_dataset_version_study_id"))
        batch_op.drop_index(batch_op.f("ix_clinical_dataset_version_organisation_id"))

    op.drop_table("clinical_dataset_version")
    with op.batch_alter_table("clinical_study", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clinical_study_program_id"))
        batch_op.drop_index(batch_op.f("ix_clinical_study_organisation_id"))

    op.drop_table("clinical_study")


# Uploaded datasets are immutable: a correction is a new version, never an overwrite. The
# database itself refuses UPDATE and DELETE on versions and their raw files.
IMMUTABLE = ("clinical_dataset_version", "clinical_dataset_file")


def _create_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in IMMUTABLE:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is immutable: {verb} refused'); END"
                )
        return
    op.execute(
        "CREATE FUNCTION clinical_dataset_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION '% is immutable: % refused', TG_TABLE_NAME, TG_OP; END $$"
    )
    for table in IMMUTABLE:
        op.execute(
            f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION clinical_dataset_refuse()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION clinical_dataset_refuse()"
        )


def _drop_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in IMMUTABLE:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        return
    for table in IMMUTABLE:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    op.execute("DROP FUNCTION IF EXISTS clinical_dataset_refuse()")
