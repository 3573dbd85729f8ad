"""QC release (issue 13): versioned specifications, results, OOS investigations, releases,
exceptional releases and issued certificates. The database refuses DELETE of any of them, a
change of the content of an approved specification, a change of a result's value or judgement (a
result is only ever marked invalid), and any change of an issued certificate, on both engines.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 23:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "qc_investigation_counter",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_qc_investigation_counter")),
    )
    op.create_table(
        "qc_spec",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(length=32), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=150), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("effective_by", sa.String(length=150), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_qc_spec_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["program_id"], ["program.id"], name=op.f("fk_qc_spec_program_id_program")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qc_spec")),
        sa.UniqueConstraint(
            "program_id",
            "stage",
            "phase",
            "version",
            name=op.f("uq_qc_spec_program_id_stage_phase_version"),
        ),
    )
    with op.batch_alter_table("qc_spec", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_qc_spec_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_qc_spec_program_id"), ["program_id"], unique=False)

    op.create_table(
        "qc_coa",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.String(length=150), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["mfg_batch.id"], name=op.f("fk_qc_coa_batch_id_mfg_batch")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_qc_coa_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qc_coa")),
        sa.UniqueConstraint("file_sha256", name=op.f("uq_qc_coa_file_sha256")),
        sa.UniqueConstraint("number", name=op.f("uq_qc_coa_number")),
    )
    with op.batch_alter_table("qc_coa", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_qc_coa_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_qc_coa_content_hash"), ["content_hash"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_qc_coa_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "qc_exception",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("nonconformities", sa.Text(), nullable=False),
        sa.Column("physician", sa.String(length=200), nullable=False),
        sa.Column("physician_request", sa.String(length=200), nullable=False),
        sa.Column("requested_on", sa.Date(), nullable=False),
        sa.Column("no_alternative", sa.Text(), nullable=False),
        sa.Column("risk_assessment", sa.Text(), nullable=False),
        sa.Column("authority_notification", sa.Text(), nullable=False),
        sa.Column("in_clinical_trial", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=150), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["mfg_batch.id"], name=op.f("fk_qc_exception_batch_id_mfg_batch")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_qc_exception_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qc_exception")),
        sa.UniqueConstraint("batch_id", name=op.f("uq_qc_exception_batch_id")),
    )
    with op.batch_alter_table("qc_exception", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_qc_exception_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "qc_release",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("spec_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("pending", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=150), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["mfg_batch.id"], name=op.f("fk_qc_release_batch_id_mfg_batch")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_qc_release_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["spec_id"], ["qc_spec.id"], name=op.f("fk_qc_release_spec_id_qc_spec")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qc_release")),
        sa.UniqueConstraint("batch_id", name=op.f("uq_qc_release_batch_id")),
    )
    with op.batch_alter_table("qc_release", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_qc_release_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "qc_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("spec_id", sa.Integer(), nullable=False),
        sa.Column("test_code", sa.String(length=64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("value_text", sa.String(length=200), nullable=False),
        sa.Column("unit", sa.String(length=40), nullable=True),
        sa.Column("value", sa.String(length=64), nullable=True),
        sa.Column("rounded", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("analyst", sa.String(length=150), nullable=False),
        sa.Column("analyst_name", sa.String(length=200), nullable=False),
        sa.Column("tested_on", sa.Date(), nullable=True),
        sa.Column("instrument", sa.String(length=64), nullable=True),
        sa.Column("method_ref", sa.String(length=120), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_file", sa.String(length=255), nullable=True),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("inputs", sa.Text(), nullable=True),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entered_by", sa.String(length=150), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("invalidated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("invalidated_by", sa.String(length=150), nullable=True),
        sa.Column("retest_of_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["mfg_batch.id"], name=op.f("fk_qc_result_batch_id_mfg_batch")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_qc_result_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["retest_of_id"], ["qc_result.id"], name=op.f("fk_qc_result_retest_of_id_qc_result")
        ),
        sa.ForeignKeyConstraint(
            ["spec_id"], ["qc_spec.id"], name=op.f("fk_qc_result_spec_id_qc_spec")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qc_result")),
    )
    with op.batch_alter_table("qc_result", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_qc_result_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_qc_result_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_qc_result_spec_id"), ["spec_id"], unique=False)

    op.create_table(
        "qc_investigation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("test_code", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("after_release", sa.Boolean(), nullable=False),
        sa.Column("escalation", sa.Text(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_by", sa.String(length=150), nullable=False),
        sa.Column("finding", sa.Text(), nullable=True),
        sa.Column("assignable", sa.Boolean(), nullable=True),
        sa.Column("justification", sa.Text(), nullable=True),
        sa.Column("phase_i_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("phase_i_by", sa.String(length=150), nullable=True),
        sa.Column("conclusion", sa.Text(), nullable=True),
        sa.Column("impact", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=150), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["mfg_batch.id"], name=op.f("fk_qc_investigation_batch_id_mfg_batch")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_qc_investigation_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["result_id"], ["qc_result.id"], name=op.f("fk_qc_investigation_result_id_qc_result")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qc_investigation")),
        sa.UniqueConstraint("number", name=op.f("uq_qc_investigation_number")),
        sa.UniqueConstraint("result_id", name=op.f("uq_qc_investigation_result_id")),
    )
    with op.batch_alter_table("qc_investigation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_qc_investigation_batch_id"), ["batch_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_qc_investigation_organisation_id"), ["organisation_id"], unique=False
        )

    _create_triggers()


def downgrade() -> None:
    _drop_triggers()

    with op.batch_alter_table("qc_investigation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qc_investigation_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_qc_investigation_batch_id"))

    op.drop_table("qc_investigation")
    with op.batch_alter_table("qc_result", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qc_result_spec_id"))
        batch_op.drop_index(batch_op.f("ix_qc_result_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_qc_result_batch_id"))

    op.drop_table("qc_result")
    with op.batch_alter_table("qc_release", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qc_release_organisation_id"))

    op.drop_table("qc_release")
    with op.batch_alter_table("qc_exception", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qc_exception_organisation_id"))

    op.drop_table("qc_exception")
    with op.batch_alter_table("qc_coa", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qc_coa_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_qc_coa_content_hash"))
        batch_op.drop_index(batch_op.f("ix_qc_coa_batch_id"))

    op.drop_table("qc_coa")
    with op.batch_alter_table("qc_spec", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qc_spec_program_id"))
        batch_op.drop_index(batch_op.f("ix_qc_spec_organisation_id"))

    op.drop_table("qc_spec")
    op.drop_table("qc_investigation_counter")


_TABLES = ("qc_spec", "qc_result", "qc_investigation", "qc_exception", "qc_release", "qc_coa")
_NO_DELETE = "QC records are never deleted: DELETE refused"
_SPEC = "qc_spec: an approved specification version is never changed"
_RESULT = (
    "qc_result: the value and judgement of a result are never changed (mark it invalid instead)"
)
_COA = "qc_coa: an issued certificate is never changed"
#: the columns of a result that are its value and judgement
_RESULT_COLUMNS = (
    "batch_id, spec_id, test_code, attempt, value_text, unit, value, rounded, outcome, "
    "analyst, tested_on, source, entered_at, entered_by"
)


def _create_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in _TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{_NO_DELETE}'); END"
            )
        op.execute(
            "CREATE TRIGGER qc_spec_locked BEFORE UPDATE OF content, content_hash, version, "
            "program_id, stage, phase ON qc_spec WHEN OLD.status <> 'draft' "
            f"BEGIN SELECT RAISE(ABORT, '{_SPEC}'); END"
        )
        op.execute(
            f"CREATE TRIGGER qc_result_locked BEFORE UPDATE OF {_RESULT_COLUMNS} ON qc_result "
            f"BEGIN SELECT RAISE(ABORT, '{_RESULT}'); END"
        )
        op.execute(
            f"CREATE TRIGGER qc_coa_locked BEFORE UPDATE ON qc_coa "
            f"BEGIN SELECT RAISE(ABORT, '{_COA}'); END"
        )
        return
    op.execute(
        f"""CREATE FUNCTION qc_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN RAISE EXCEPTION '{_NO_DELETE}'; END $$"""
    )
    for table in _TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION qc_no_delete()"
        )
    op.execute(
        f"""CREATE FUNCTION qc_spec_guard() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             IF OLD.status <> 'draft' AND (NEW.content, NEW.content_hash, NEW.version,
                 NEW.program_id, NEW.stage, NEW.phase) IS DISTINCT FROM (OLD.content,
                 OLD.content_hash, OLD.version, OLD.program_id, OLD.stage, OLD.phase) THEN
               RAISE EXCEPTION '{_SPEC}';
             END IF;
             RETURN NEW;
           END $$"""
    )
    op.execute(
        "CREATE TRIGGER qc_spec_guard BEFORE UPDATE ON qc_spec "
        "FOR EACH ROW EXECUTE FUNCTION qc_spec_guard()"
    )
    new = ", ".join(f"NEW.{c.strip()}" for c in _RESULT_COLUMNS.split(","))
    old = ", ".join(f"OLD.{c.strip()}" for c in _RESULT_COLUMNS.split(","))
    op.execute(
        f"""CREATE FUNCTION qc_result_guard() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             IF ({new}) IS DISTINCT FROM ({old}) THEN
               RAISE EXCEPTION '{_RESULT}';
             END IF;
             RETURN NEW;
           END $$"""
    )
    op.execute(
        "CREATE TRIGGER qc_result_guard BEFORE UPDATE ON qc_result "
        "FOR EACH ROW EXECUTE FUNCTION qc_result_guard()"
    )
    op.execute(
        f"""CREATE FUNCTION qc_coa_guard() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN RAISE EXCEPTION '{_COA}'; END $$"""
    )
    op.execute(
        "CREATE TRIGGER qc_coa_guard BEFORE UPDATE ON qc_coa "
        "FOR EACH ROW EXECUTE FUNCTION qc_coa_guard()"
    )


def _drop_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in _TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        for name in ("qc_spec_locked", "qc_result_locked", "qc_coa_locked"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        return
    for table in _TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete ON {table}")
    for table, name in (
        ("qc_spec", "qc_spec_guard"),
        ("qc_result", "qc_result_guard"),
        ("qc_coa", "qc_coa_guard"),
    ):
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    for fn in ("qc_no_delete", "qc_spec_guard", "qc_result_guard", "qc_coa_guard"):
        op.execute(f"DROP FUNCTION IF EXISTS {fn}()")
