"""chain of identity: facilities, DINs, patients, orders, custody

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 02:09:08.112330
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coi_facility",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("fin", sa.String(length=5), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_coi_facility_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coi_facility")),
        sa.UniqueConstraint("fin", name=op.f("uq_coi_facility_fin")),
    )
    with op.batch_alter_table("coi_facility", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_coi_facility_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "coi_din_counter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["coi_facility.id"],
            name=op.f("fk_coi_din_counter_facility_id_coi_facility"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coi_din_counter")),
        sa.UniqueConstraint(
            "facility_id", "year", name=op.f("uq_coi_din_counter_facility_id_year")
        ),
    )
    with op.batch_alter_table("coi_din_counter", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_coi_din_counter_facility_id"), ["facility_id"], unique=False
        )

    op.create_table(
        "coi_patient",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("treatment_site_id", sa.Integer(), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("initials", sa.String(length=4), nullable=True),
        sa.Column("personal_data_salt", sa.String(length=32), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enrolled_by", sa.String(length=150), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_coi_patient_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["program_id"], ["program.id"], name=op.f("fk_coi_patient_program_id_program")
        ),
        sa.ForeignKeyConstraint(
            ["treatment_site_id"], ["site.id"], name=op.f("fk_coi_patient_treatment_site_id_site")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coi_patient")),
        sa.UniqueConstraint(
            "organisation_id", "subject_id", name=op.f("uq_coi_patient_organisation_id_subject_id")
        ),
    )
    with op.batch_alter_table("coi_patient", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_coi_patient_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_coi_patient_program_id"), ["program_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_coi_patient_treatment_site_id"), ["treatment_site_id"], unique=False
        )

    op.create_table(
        "coi_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("coi", sa.String(length=40), nullable=False),
        sa.Column("product_code", sa.String(length=8), nullable=False),
        sa.Column("product_name", sa.String(length=200), nullable=False),
        sa.Column("dose_level", sa.String(length=40), nullable=False),
        sa.Column("weight_kg", sa.Numeric(precision=6, scale=2), nullable=False),
        sa.Column("planned_apheresis", sa.Date(), nullable=False),
        sa.Column("required_by", sa.Date(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("starting_material", sa.String(length=16), nullable=False),
        sa.Column("marker_hbv", sa.String(length=8), nullable=False),
        sa.Column("marker_hcv", sa.String(length=8), nullable=False),
        sa.Column("marker_hiv", sa.String(length=8), nullable=False),
        sa.Column("marker_htlv", sa.String(length=8), nullable=False),
        sa.Column("marker_syphilis", sa.String(length=8), nullable=False),
        sa.Column("segregated", sa.Boolean(), nullable=False),
        sa.Column("apheresis_din", sa.String(length=13), nullable=True),
        sa.Column("product_din", sa.String(length=13), nullable=True),
        sa.Column("batch_number", sa.String(length=64), nullable=True),
        sa.Column("current_step", sa.String(length=32), nullable=True),
        sa.Column("current_step_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("placed_by", sa.String(length=150), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["coi_facility.id"], name=op.f("fk_coi_order_facility_id_coi_facility")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_coi_order_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["coi_patient.id"], name=op.f("fk_coi_order_patient_id_coi_patient")
        ),
        sa.ForeignKeyConstraint(
            ["program_id"], ["program.id"], name=op.f("fk_coi_order_program_id_program")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coi_order")),
        sa.UniqueConstraint("apheresis_din", name=op.f("uq_coi_order_apheresis_din")),
        sa.UniqueConstraint("coi", name=op.f("uq_coi_order_coi")),
        sa.UniqueConstraint(
            "organisation_id", "number", name=op.f("uq_coi_order_organisation_id_number")
        ),
        sa.UniqueConstraint("product_din", name=op.f("uq_coi_order_product_din")),
    )
    with op.batch_alter_table("coi_order", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_coi_order_facility_id"), ["facility_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_coi_order_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_coi_order_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_coi_order_program_id"), ["program_id"], unique=False)

    op.create_table(
        "coi_bag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("din", sa.String(length=13), nullable=False),
        sa.Column("product_code", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["coi_order.id"], name=op.f("fk_coi_bag_order_id_coi_order")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_coi_bag_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coi_bag")),
        sa.UniqueConstraint("order_id", "number", name=op.f("uq_coi_bag_order_id_number")),
    )
    with op.batch_alter_table("coi_bag", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_coi_bag_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_coi_bag_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "coi_custody_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("performed_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_by", sa.String(length=150), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scanned", sa.Text(), nullable=True),
        sa.Column("identifiers_verified", sa.String(length=200), nullable=False),
        sa.Column("details", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["coi_order.id"], name=op.f("fk_coi_custody_event_order_id_coi_order")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_coi_custody_event_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coi_custody_event")),
    )
    with op.batch_alter_table("coi_custody_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_coi_custody_event_order_id"), ["order_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_coi_custody_event_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "coi_din",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("din", sa.String(length=13), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.String(length=150), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["coi_facility.id"], name=op.f("fk_coi_din_facility_id_coi_facility")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["coi_order.id"], name=op.f("fk_coi_din_order_id_coi_order")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_coi_din_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coi_din")),
        sa.UniqueConstraint("din", name=op.f("uq_coi_din_din")),
        sa.UniqueConstraint(
            "facility_id", "year", "sequence", name=op.f("uq_coi_din_facility_id_year_sequence")
        ),
    )
    with op.batch_alter_table("coi_din", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_coi_din_facility_id"), ["facility_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_coi_din_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_coi_din_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "coi_handoff_mismatch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("recorded_by", sa.String(length=150), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scanned", sa.Text(), nullable=True),
        sa.Column("problems", sa.Text(), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_by", sa.String(length=150), nullable=True),
        sa.Column("clear_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["coi_order.id"], name=op.f("fk_coi_handoff_mismatch_order_id_coi_order")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_coi_handoff_mismatch_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coi_handoff_mismatch")),
    )
    with op.batch_alter_table("coi_handoff_mismatch", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_coi_handoff_mismatch_order_id"), ["order_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_coi_handoff_mismatch_organisation_id"), ["organisation_id"], unique=False
        )

    _create_triggers()


def downgrade() -> None:
    _drop_triggers()
    with op.batch_alter_table("coi_handoff_mismatch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coi_handoff_mismatch_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_coi_handoff_mismatch_order_id"))

    op.drop_table("coi_handoff_mismatch")
    with op.batch_alter_table("coi_din", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coi_din_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_coi_din_order_id"))
        batch_op.drop_index(batch_op.f("ix_coi_din_facility_id"))

    op.drop_table("coi_din")
    with op.batch_alter_table("coi_custody_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coi_custody_event_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_coi_custody_event_order_id"))

    op.drop_table("coi_custody_event")
    with op.batch_alter_table("coi_bag", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coi_bag_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_coi_bag_order_id"))

    op.drop_table("coi_bag")
    with op.batch_alter_table("coi_order", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coi_order_program_id"))
        batch_op.drop_index(batch_op.f("ix_coi_order_patient_id"))
        batch_op.drop_index(batch_op.f("ix_coi_order_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_coi_order_facility_id"))

    op.drop_table("coi_order")
    with op.batch_alter_table("coi_patient", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coi_patient_treatment_site_id"))
        batch_op.drop_index(batch_op.f("ix_coi_patient_program_id"))
        batch_op.drop_index(batch_op.f("ix_coi_patient_organisation_id"))

    op.drop_table("coi_patient")
    with op.batch_alter_table("coi_din_counter", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coi_din_counter_facility_id"))

    op.drop_table("coi_din_counter")
    with op.batch_alter_table("coi_facility", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coi_facility_organisation_id"))

    op.drop_table("coi_facility")


# Custody records are GMP records: issued DINs and custody events are append-only, and a hand-off
# mismatch may be updated once only, to record its clearance (who, when, why).
_APPEND_ONLY = ("coi_din", "coi_custody_event")


def _create_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in _APPEND_ONLY:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END"
                )
        op.execute(
            "CREATE TRIGGER coi_handoff_mismatch_no_delete BEFORE DELETE ON coi_handoff_mismatch "
            "BEGIN SELECT RAISE(ABORT, 'coi_handoff_mismatch is append-only: DELETE refused'); END"
        )
        op.execute(
            "CREATE TRIGGER coi_handoff_mismatch_clear_once BEFORE UPDATE ON coi_handoff_mismatch "
            "WHEN OLD.cleared_at IS NOT NULL OR NEW.problems IS NOT OLD.problems "
            "OR NEW.order_id IS NOT OLD.order_id OR NEW.recorded_by IS NOT OLD.recorded_by "
            "BEGIN SELECT RAISE(ABORT, 'coi_handoff_mismatch: only its clearance may be recorded, "
            "once'); END"
        )
        return
    op.execute(
        """CREATE FUNCTION coi_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP; END $$"""
    )
    for table in _APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION coi_refuse()"
        )
    op.execute(
        "CREATE TRIGGER coi_handoff_mismatch_no_delete BEFORE DELETE ON coi_handoff_mismatch "
        "FOR EACH ROW EXECUTE FUNCTION coi_refuse()"
    )
    op.execute(
        """CREATE FUNCTION coi_mismatch_clear_once() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             IF OLD.cleared_at IS NOT NULL OR NEW.problems IS DISTINCT FROM OLD.problems
                OR NEW.order_id IS DISTINCT FROM OLD.order_id
                OR NEW.recorded_by IS DISTINCT FROM OLD.recorded_by THEN
               RAISE EXCEPTION 'coi_handoff_mismatch: only its clearance may be recorded, once';
             END IF;
             RETURN NEW;
           END $$"""
    )
    op.execute(
        "CREATE TRIGGER coi_handoff_mismatch_clear_once BEFORE UPDATE ON coi_handoff_mismatch "
        "FOR EACH ROW EXECUTE FUNCTION coi_mismatch_clear_once()"
    )


def _drop_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        names = [f"{t}_no_{v}" for t in _APPEND_ONLY for v in ("update", "delete")]
        for name in (*names, "coi_handoff_mismatch_no_delete", "coi_handoff_mismatch_clear_once"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        return
    for table in _APPEND_ONLY:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    op.execute("DROP TRIGGER IF EXISTS coi_handoff_mismatch_no_delete ON coi_handoff_mismatch")
    op.execute("DROP TRIGGER IF EXISTS coi_handoff_mismatch_clear_once ON coi_handoff_mismatch")
    op.execute("DROP FUNCTION IF EXISTS coi_mismatch_clear_once()")
    op.execute("DROP FUNCTION IF EXISTS coi_refuse()")
