"""Product ↔ outcome (issue 14): links of clinical subjects to their orders. The database
refuses DELETE of a link and any UPDATE except the one that unlinks a current link (its
identity, order and checks never change; an unlinked link stays as it is), on both engines.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 02:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_NO_DELETE = "outcome_link: links are never deleted (unlink instead): DELETE refused"
_LOCKED = "outcome_link: a link is never changed, only unlinked once"
#: the columns of a link that are fixed when it is made
_FIXED = (
    "organisation_id, study_id, subject_id, order_id, coi, checks, reason, linked_at, linked_by"
)


def upgrade() -> None:
    op.create_table(
        "outcome_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("coi", sa.String(length=40), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("linked_by", sa.String(length=150), nullable=False),
        sa.Column("unlinked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unlinked_by", sa.String(length=150), nullable=True),
        sa.Column("unlink_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["coi_order.id"], name=op.f("fk_outcome_link_order_id_coi_order")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_outcome_link_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["clinical_study.id"],
            name=op.f("fk_outcome_link_study_id_clinical_study"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcome_link")),
    )
    with op.batch_alter_table("outcome_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outcome_link_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outcome_link_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outcome_link_study_id"), ["study_id"], unique=False)
        batch_op.create_index(
            "uq_outcome_link_current_order",
            ["order_id"],
            unique=True,
            sqlite_where=sa.text("unlinked_at IS NULL"),
            postgresql_where=sa.text("unlinked_at IS NULL"),
        )
        batch_op.create_index(
            "uq_outcome_link_current_subject",
            ["study_id", "subject_id"],
            unique=True,
            sqlite_where=sa.text("unlinked_at IS NULL"),
            postgresql_where=sa.text("unlinked_at IS NULL"),
        )
    _create_triggers()


def downgrade() -> None:
    _drop_triggers()
    op.drop_table("outcome_link")


def _create_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER outcome_link_no_delete BEFORE DELETE ON outcome_link "
            f"BEGIN SELECT RAISE(ABORT, '{_NO_DELETE}'); END"
        )
        op.execute(
            f"CREATE TRIGGER outcome_link_fixed BEFORE UPDATE OF {_FIXED} ON outcome_link "
            f"BEGIN SELECT RAISE(ABORT, '{_LOCKED}'); END"
        )
        op.execute(
            "CREATE TRIGGER outcome_link_unlinked BEFORE UPDATE ON outcome_link "
            f"WHEN OLD.unlinked_at IS NOT NULL BEGIN SELECT RAISE(ABORT, '{_LOCKED}'); END"
        )
        return
    op.execute(
        f"""CREATE FUNCTION outcome_link_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN RAISE EXCEPTION '{_NO_DELETE}'; END $$"""
    )
    op.execute(
        "CREATE TRIGGER outcome_link_no_delete BEFORE DELETE ON outcome_link "
        "FOR EACH ROW EXECUTE FUNCTION outcome_link_no_delete()"
    )
    new = ", ".join(f"NEW.{c.strip()}" for c in _FIXED.split(","))
    old = ", ".join(f"OLD.{c.strip()}" for c in _FIXED.split(","))
    new, old = (
        new.replace("NEW.checks", "NEW.checks::text"),
        old.replace("OLD.checks", "OLD.checks::text"),
    )
    op.execute(
        f"""CREATE FUNCTION outcome_link_guard() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             IF OLD.unlinked_at IS NOT NULL OR ({new}) IS DISTINCT FROM ({old}) THEN
               RAISE EXCEPTION '{_LOCKED}';
             END IF;
             RETURN NEW;
           END $$"""
    )
    op.execute(
        "CREATE TRIGGER outcome_link_guard BEFORE UPDATE ON outcome_link "
        "FOR EACH ROW EXECUTE FUNCTION outcome_link_guard()"
    )


def _drop_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("outcome_link_no_delete", "outcome_link_fixed", "outcome_link_unlinked"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        return
    for name in ("outcome_link_no_delete", "outcome_link_guard"):
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON outcome_link")
        op.execute(f"DROP FUNCTION IF EXISTS {name}()")
