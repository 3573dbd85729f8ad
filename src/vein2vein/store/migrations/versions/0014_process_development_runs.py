"""process-development runs (issue 12): an executed batch record flagged non-GMP.

``mfg_batch`` gains ``gmp`` (true for every existing row), ``run_label`` and ``program_id``; its
order, CoI identifier and DIN become optional. Three CHECK constraints keep the two kinds apart:
a GMP batch has an order, its CoI identifier and DIN (``gmp_has_order``); a non-GMP run has a
label and a program and no order (``pd_has_label``); a non-GMP run is never in QA review or
approved (``pd_never_approved``: it can never be released). A run label is unique per program.

SQLite cannot change a column's nullability in place: the table is rebuilt (Alembic's batch
mode). Its triggers (migration 0013) name ``mfg_batch``, and ``mfg_batch_event`` refers to it by
foreign key, so the events are set aside in a plain copy, their table dropped (no trigger fires
on a DROP), ``mfg_batch`` rebuilt, the events' table made again as in 0013 and filled from the
copy, and the triggers made again. PostgreSQL alters the columns in place.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 20:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

CHECKS = {
    "gmp_has_order": "NOT gmp OR (order_id IS NOT NULL AND coi IS NOT NULL AND din IS NOT NULL)",
    "pd_has_label": "gmp OR (run_label IS NOT NULL AND program_id IS NOT NULL "
    "AND order_id IS NULL)",
    "pd_never_approved": "gmp OR status NOT IN ('IN_REVIEW', 'APPROVED')",
}


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _set_events_aside()
    with op.batch_alter_table("mfg_batch", schema=None, recreate="auto") as batch_op:
        batch_op.add_column(
            sa.Column("gmp", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(sa.Column("run_label", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("program_id", sa.Integer(), nullable=True))
        for name in ("order_id", "coi", "din"):
            batch_op.alter_column(name, existing_type=_TYPES[name], nullable=True)
        batch_op.create_foreign_key(
            batch_op.f("fk_mfg_batch_program_id_program"), "program", ["program_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_mfg_batch_program_id"), ["program_id"], unique=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_mfg_batch_program_id_run_label"), ["program_id", "run_label"]
        )
        for name, condition in CHECKS.items():
            batch_op.create_check_constraint(batch_op.f(f"ck_mfg_batch_{name}"), condition)
    if sqlite:
        _restore_events()


def downgrade() -> None:
    pd_runs = (
        op.get_bind().execute(sa.text("SELECT count(*) FROM mfg_batch WHERE NOT gmp")).scalar()
    )
    if pd_runs:
        raise RuntimeError(
            f"{pd_runs} process-development runs have no order: they cannot be kept by revision "
            "0013 (records are never deleted); downgrade refused"
        )
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _set_events_aside()
    with op.batch_alter_table("mfg_batch", schema=None, recreate="auto") as batch_op:
        for name in CHECKS:
            batch_op.drop_constraint(batch_op.f(f"ck_mfg_batch_{name}"), type_="check")
        batch_op.drop_constraint(batch_op.f("uq_mfg_batch_program_id_run_label"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_mfg_batch_program_id"))
        batch_op.drop_constraint(batch_op.f("fk_mfg_batch_program_id_program"), type_="foreignkey")
        for name in ("order_id", "coi", "din"):
            batch_op.alter_column(name, existing_type=_TYPES[name], nullable=False)
        batch_op.drop_column("program_id")
        batch_op.drop_column("run_label")
        batch_op.drop_column("gmp")
    if sqlite:
        _restore_events()


_TYPES = {"order_id": sa.Integer(), "coi": sa.String(length=40), "din": sa.String(length=13)}
_KEPT = "_mfg_batch_event_0014"

# --- SQLite: the events and triggers around the rebuild of mfg_batch --------------------------

_TRIGGERS = (
    "mfg_batch_event_no_update",
    "mfg_batch_event_no_delete",
    "mfg_batch_event_approved",
    "mfg_batch_no_delete",
    "mfg_batch_approved_locked",
)
_EVENT = "mfg_batch_event is append-only: UPDATE and DELETE refused"
_APPROVED = "mfg_batch: an approved batch record is locked (its approval was signed)"
_NO_DELETE = "mfg_batch is never deleted: DELETE refused"


def _set_events_aside() -> None:
    for name in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute(f"CREATE TABLE {_KEPT} AS SELECT * FROM mfg_batch_event")
    op.drop_index("ix_mfg_batch_event_lot_id", table_name="mfg_batch_event")
    op.drop_index("ix_mfg_batch_event_batch_id", table_name="mfg_batch_event")
    op.drop_table("mfg_batch_event")


def _restore_events() -> None:
    op.create_table(
        "mfg_batch_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("item", sa.String(length=64), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("unit", sa.String(length=32), nullable=True),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("by", sa.String(length=150), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["mfg_batch.id"], name="fk_mfg_batch_event_batch_id_mfg_batch"
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["mfg_lot.id"], name="fk_mfg_batch_event_lot_id_mfg_lot"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_mfg_batch_event"),
        sa.UniqueConstraint("batch_id", "seq", name="uq_mfg_batch_event_batch_id_seq"),
    )
    op.create_index("ix_mfg_batch_event_batch_id", "mfg_batch_event", ["batch_id"])
    op.create_index("ix_mfg_batch_event_lot_id", "mfg_batch_event", ["lot_id"])
    columns = "id, batch_id, seq, kind, step, item, value, unit, lot_id, by, at, reason, payload"
    op.execute(f"INSERT INTO mfg_batch_event ({columns}) SELECT {columns} FROM {_KEPT}")
    op.execute(f"DROP TABLE {_KEPT}")
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER mfg_batch_event_no_{verb.lower()} BEFORE {verb} ON "
            f"mfg_batch_event BEGIN SELECT RAISE(ABORT, '{_EVENT}'); END"
        )
    op.execute(
        "CREATE TRIGGER mfg_batch_event_approved BEFORE INSERT ON mfg_batch_event "
        "WHEN (SELECT status FROM mfg_batch WHERE id = NEW.batch_id) = 'APPROVED' "
        f"BEGIN SELECT RAISE(ABORT, '{_APPROVED}'); END"
    )
    op.execute(
        "CREATE TRIGGER mfg_batch_no_delete BEFORE DELETE ON mfg_batch "
        f"BEGIN SELECT RAISE(ABORT, '{_NO_DELETE}'); END"
    )
    op.execute(
        "CREATE TRIGGER mfg_batch_approved_locked BEFORE UPDATE ON mfg_batch "
        f"WHEN OLD.status = 'APPROVED' BEGIN SELECT RAISE(ABORT, '{_APPROVED}'); END"
    )
