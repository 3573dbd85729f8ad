"""executed batch records (issue 12): a batch per order bound to one MBR version, and its
append-only events. The database refuses UPDATE and DELETE of an event, an event added to an
APPROVED batch, and DELETE of a batch and any change of an APPROVED one, on both engines.

Revision ID: 0013
Revises: 0007
Create Date: 2026-12-06 18:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mfg_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("coi", sa.String(length=40), nullable=False),
        sa.Column("din", sa.String(length=13), nullable=False),
        sa.Column("mbr_id", sa.Integer(), nullable=False),
        sa.Column("mbr_version", sa.Integer(), nullable=False),
        sa.Column("mbr_hash", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("planned_suite", sa.String(length=64), nullable=False),
        sa.Column("order_facts", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failed_step", sa.String(length=32), nullable=True),
        sa.Column("failed_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=150), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_by", sa.String(length=150), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=150), nullable=True),
        sa.ForeignKeyConstraint(["mbr_id"], ["mbr.id"], name=op.f("fk_mfg_batch_mbr_id_mbr")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["coi_order.id"], name=op.f("fk_mfg_batch_order_id_coi_order")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_mfg_batch_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_mfg_batch_site_id_site")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mfg_batch")),
    )
    with op.batch_alter_table("mfg_batch", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mfg_batch_mbr_id"), ["mbr_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_mfg_batch_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_mfg_batch_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_mfg_batch_site_id"), ["site_id"], unique=False)

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
            ["batch_id"], ["mfg_batch.id"], name=op.f("fk_mfg_batch_event_batch_id_mfg_batch")
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["mfg_lot.id"], name=op.f("fk_mfg_batch_event_lot_id_mfg_lot")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mfg_batch_event")),
        sa.UniqueConstraint("batch_id", "seq", name=op.f("uq_mfg_batch_event_batch_id_seq")),
    )
    with op.batch_alter_table("mfg_batch_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mfg_batch_event_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_mfg_batch_event_lot_id"), ["lot_id"], unique=False)
    _create_triggers()


def downgrade() -> None:
    _drop_triggers()
    with op.batch_alter_table("mfg_batch_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mfg_batch_event_lot_id"))
        batch_op.drop_index(batch_op.f("ix_mfg_batch_event_batch_id"))
    op.drop_table("mfg_batch_event")
    with op.batch_alter_table("mfg_batch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mfg_batch_site_id"))
        batch_op.drop_index(batch_op.f("ix_mfg_batch_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_mfg_batch_order_id"))
        batch_op.drop_index(batch_op.f("ix_mfg_batch_mbr_id"))
    op.drop_table("mfg_batch")


_EVENT = "mfg_batch_event is append-only: UPDATE and DELETE refused"
_APPROVED = "mfg_batch: an approved batch record is locked (its approval was signed)"
_NO_DELETE = "mfg_batch is never deleted: DELETE refused"


def _create_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
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
        return
    op.execute(
        f"""CREATE FUNCTION mfg_batch_event_guard() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             IF TG_OP = 'INSERT' THEN
               IF (SELECT status FROM mfg_batch WHERE id = NEW.batch_id) = 'APPROVED' THEN
                 RAISE EXCEPTION '{_APPROVED}';
               END IF;
               RETURN NEW;
             END IF;
             RAISE EXCEPTION '{_EVENT}';
           END $$"""
    )
    op.execute(
        "CREATE TRIGGER mfg_batch_event_guard BEFORE INSERT OR UPDATE OR DELETE ON "
        "mfg_batch_event FOR EACH ROW EXECUTE FUNCTION mfg_batch_event_guard()"
    )
    op.execute(
        f"""CREATE FUNCTION mfg_batch_guard() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             IF TG_OP = 'DELETE' THEN
               RAISE EXCEPTION '{_NO_DELETE}';
             END IF;
             IF OLD.status = 'APPROVED' THEN
               RAISE EXCEPTION '{_APPROVED}';
             END IF;
             RETURN NEW;
           END $$"""
    )
    op.execute(
        "CREATE TRIGGER mfg_batch_guard BEFORE UPDATE OR DELETE ON mfg_batch "
        "FOR EACH ROW EXECUTE FUNCTION mfg_batch_guard()"
    )


def _drop_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in (
            "mfg_batch_event_no_update",
            "mfg_batch_event_no_delete",
            "mfg_batch_event_approved",
            "mfg_batch_no_delete",
            "mfg_batch_approved_locked",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        return
    op.execute("DROP TRIGGER IF EXISTS mfg_batch_event_guard ON mfg_batch_event")
    op.execute("DROP FUNCTION IF EXISTS mfg_batch_event_guard()")
    op.execute("DROP TRIGGER IF EXISTS mfg_batch_guard ON mfg_batch")
    op.execute("DROP FUNCTION IF EXISTS mfg_batch_guard()")
