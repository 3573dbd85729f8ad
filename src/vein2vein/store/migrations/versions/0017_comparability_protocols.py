"""Comparability protocols on stored batches (issue 14): versioned protocols signed by their
author and approved by a second person, and the runs of approved versions. The database
refuses DELETE of either, a change of a signed protocol version's content, and any change of
a run, on both engines.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 02:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cmp_protocol",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=48), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("previous_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=150), nullable=False),
        sa.Column("authored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("authored_by", sa.String(length=150), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=150), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_cmp_protocol_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["previous_id"],
            ["cmp_protocol.id"],
            name=op.f("fk_cmp_protocol_previous_id_cmp_protocol"),
        ),
        sa.ForeignKeyConstraint(
            ["program_id"], ["program.id"], name=op.f("fk_cmp_protocol_program_id_program")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cmp_protocol")),
        sa.UniqueConstraint(
            "program_id",
            "number",
            "version",
            name=op.f("uq_cmp_protocol_program_id_number_version"),
        ),
    )
    with op.batch_alter_table("cmp_protocol", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cmp_protocol_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_cmp_protocol_program_id"), ["program_id"], unique=False
        )

    op.create_table(
        "cmp_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("protocol_id", sa.Integer(), nullable=False),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_by", sa.String(length=150), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("inputs_hash", sa.String(length=64), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("conclusion", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_cmp_run_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["protocol_id"], ["cmp_protocol.id"], name=op.f("fk_cmp_run_protocol_id_cmp_protocol")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cmp_run")),
    )
    with op.batch_alter_table("cmp_run", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cmp_run_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_cmp_run_protocol_id"), ["protocol_id"], unique=False)

    _create_triggers()


def downgrade() -> None:
    _drop_triggers()
    with op.batch_alter_table("cmp_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cmp_run_protocol_id"))
        batch_op.drop_index(batch_op.f("ix_cmp_run_organisation_id"))
    op.drop_table("cmp_run")
    with op.batch_alter_table("cmp_protocol", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cmp_protocol_program_id"))
        batch_op.drop_index(batch_op.f("ix_cmp_protocol_organisation_id"))
    op.drop_table("cmp_protocol")


_TABLES = ("cmp_protocol", "cmp_run")
_NO_DELETE = "comparability records are never deleted: DELETE refused"
_PROTOCOL = "cmp_protocol: a signed protocol version is never changed (make a new version)"
_RUN = "cmp_run: a comparability run is never changed"
_LOCKED_COLUMNS = "content, content_hash, version, number, program_id, organisation_id, title"


def _create_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in _TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{_NO_DELETE}'); END"
            )
        op.execute(
            f"CREATE TRIGGER cmp_protocol_locked BEFORE UPDATE OF {_LOCKED_COLUMNS} "
            f"ON cmp_protocol WHEN OLD.status <> 'draft' "
            f"BEGIN SELECT RAISE(ABORT, '{_PROTOCOL}'); END"
        )
        op.execute(
            f"CREATE TRIGGER cmp_run_locked BEFORE UPDATE ON cmp_run "
            f"BEGIN SELECT RAISE(ABORT, '{_RUN}'); END"
        )
        return
    op.execute(
        f"""CREATE FUNCTION cmp_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN RAISE EXCEPTION '{_NO_DELETE}'; END $$"""
    )
    for table in _TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION cmp_no_delete()"
        )
    new = ", ".join(f"NEW.{c.strip()}" for c in _LOCKED_COLUMNS.split(","))
    old = ", ".join(f"OLD.{c.strip()}" for c in _LOCKED_COLUMNS.split(","))
    op.execute(
        f"""CREATE FUNCTION cmp_protocol_guard() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             IF OLD.status <> 'draft' AND ({new}) IS DISTINCT FROM ({old}) THEN
               RAISE EXCEPTION '{_PROTOCOL}';
             END IF;
             RETURN NEW;
           END $$"""
    )
    op.execute(
        "CREATE TRIGGER cmp_protocol_guard BEFORE UPDATE ON cmp_protocol "
        "FOR EACH ROW EXECUTE FUNCTION cmp_protocol_guard()"
    )
    op.execute(
        f"""CREATE FUNCTION cmp_run_guard() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN RAISE EXCEPTION '{_RUN}'; END $$"""
    )
    op.execute(
        "CREATE TRIGGER cmp_run_guard BEFORE UPDATE ON cmp_run "
        "FOR EACH ROW EXECUTE FUNCTION cmp_run_guard()"
    )


def _drop_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in _TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        for name in ("cmp_protocol_locked", "cmp_run_locked"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        return
    for table in _TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete ON {table}")
    op.execute("DROP TRIGGER IF EXISTS cmp_protocol_guard ON cmp_protocol")
    op.execute("DROP TRIGGER IF EXISTS cmp_run_guard ON cmp_run")
    for fn in ("cmp_no_delete", "cmp_protocol_guard", "cmp_run_guard"):
        op.execute(f"DROP FUNCTION IF EXISTS {fn}()")
