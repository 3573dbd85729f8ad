"""CPV (issue 14): frozen control-chart baselines. The database refuses DELETE of a baseline
and any change of one except its supersession (status effective → superseded, with its
time), on both engines; at most one effective baseline per product, site and attribute (a
partial unique index).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 02:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_EFFECTIVE = sa.text("status = 'effective'")


def upgrade() -> None:
    op.create_table(
        "cpv_baseline",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("test_code", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=40), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("center", sa.Float(), nullable=False),
        sa.Column("sigma", sa.Float(), nullable=False),
        sa.Column("lcl", sa.Float(), nullable=False),
        sa.Column("ucl", sa.Float(), nullable=False),
        sa.Column("mr_center", sa.Float(), nullable=False),
        sa.Column("mr_ucl", sa.Float(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("frozen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("frozen_by", sa.String(length=150), nullable=False),
        sa.Column("frozen_by_name", sa.String(length=200), nullable=False),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_cpv_baseline_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["program_id"], ["program.id"], name=op.f("fk_cpv_baseline_program_id_program")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_cpv_baseline_site_id_site")
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["cpv_baseline.id"],
            name=op.f("fk_cpv_baseline_supersedes_id_cpv_baseline"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cpv_baseline")),
    )
    with op.batch_alter_table("cpv_baseline", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cpv_baseline_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_cpv_baseline_program_id"), ["program_id"], unique=False
        )
        batch_op.create_index(
            "uq_cpv_baseline_effective",
            ["program_id", "site_id", "test_code"],
            unique=True,
            sqlite_where=_EFFECTIVE,
            postgresql_where=_EFFECTIVE,
        )
    _create_triggers()


def downgrade() -> None:
    _drop_triggers()
    with op.batch_alter_table("cpv_baseline", schema=None) as batch_op:
        batch_op.drop_index("uq_cpv_baseline_effective")
        batch_op.drop_index(batch_op.f("ix_cpv_baseline_program_id"))
        batch_op.drop_index(batch_op.f("ix_cpv_baseline_organisation_id"))
    op.drop_table("cpv_baseline")


_NO_DELETE = "cpv_baseline: a frozen baseline is never deleted: DELETE refused"
_LOCKED = "cpv_baseline: a frozen baseline is never changed (freeze a new one to supersede it)"
#: every column but the supersession's
_FROZEN_COLUMNS = (
    "organisation_id, program_id, site_id, test_code, unit, period_start, period_end, n, "
    "center, sigma, lcl, ucl, mr_center, mr_ucl, content, content_hash, reason, frozen_at, "
    "frozen_by, frozen_by_name, supersedes_id"
)


def _create_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER cpv_baseline_no_delete BEFORE DELETE ON cpv_baseline "
            f"BEGIN SELECT RAISE(ABORT, '{_NO_DELETE}'); END"
        )
        op.execute(
            f"CREATE TRIGGER cpv_baseline_locked BEFORE UPDATE OF {_FROZEN_COLUMNS} "
            f"ON cpv_baseline BEGIN SELECT RAISE(ABORT, '{_LOCKED}'); END"
        )
        op.execute(
            "CREATE TRIGGER cpv_baseline_superseded BEFORE UPDATE OF status, superseded_at "
            "ON cpv_baseline WHEN OLD.status <> 'effective' "
            "OR NEW.status <> 'superseded' "
            f"BEGIN SELECT RAISE(ABORT, '{_LOCKED}'); END"
        )
        return
    op.execute(
        f"""CREATE FUNCTION cpv_baseline_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN RAISE EXCEPTION '{_NO_DELETE}'; END $$"""
    )
    op.execute(
        "CREATE TRIGGER cpv_baseline_no_delete BEFORE DELETE ON cpv_baseline "
        "FOR EACH ROW EXECUTE FUNCTION cpv_baseline_no_delete()"
    )
    new = ", ".join(f"NEW.{c.strip()}" for c in _FROZEN_COLUMNS.split(","))
    old = ", ".join(f"OLD.{c.strip()}" for c in _FROZEN_COLUMNS.split(","))
    op.execute(
        f"""CREATE FUNCTION cpv_baseline_guard() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             IF ({new}) IS DISTINCT FROM ({old})
                OR OLD.status <> 'effective' OR NEW.status <> 'superseded' THEN
               RAISE EXCEPTION '{_LOCKED}';
             END IF;
             RETURN NEW;
           END $$"""
    )
    op.execute(
        "CREATE TRIGGER cpv_baseline_guard BEFORE UPDATE ON cpv_baseline "
        "FOR EACH ROW EXECUTE FUNCTION cpv_baseline_guard()"
    )


def _drop_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("cpv_baseline_no_delete", "cpv_baseline_locked", "cpv_baseline_superseded"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        return
    op.execute("DROP TRIGGER IF EXISTS cpv_baseline_no_delete ON cpv_baseline")
    op.execute("DROP TRIGGER IF EXISTS cpv_baseline_guard ON cpv_baseline")
    for fn in ("cpv_baseline_no_delete", "cpv_baseline_guard"):
        op.execute(f"DROP FUNCTION IF EXISTS {fn}()")
