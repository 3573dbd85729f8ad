"""scheduling: GMP suites, downtime, product and lab settings, plan drafts, published plans
(published plans and their slots are immutable)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 02:44:13.160755
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sched_lab",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("qc_capacity", sa.Integer(), nullable=True),
        sa.Column("max_starts_per_day", sa.Integer(), nullable=True),
        sa.Column("risk_margin_days", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=150), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_sched_lab_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sched_lab")),
        sa.UniqueConstraint("organisation_id", name=op.f("uq_sched_lab_organisation_id")),
    )
    op.create_table(
        "sched_product",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("product_code", sa.String(length=5), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("process_days", sa.Integer(), nullable=False),
        sa.Column("start_weekdays", sa.String(length=40), nullable=False),
        sa.Column("qc_method", sa.String(length=16), nullable=False),
        sa.Column("qc_days_rapid", sa.Integer(), nullable=False),
        sa.Column("qc_days_compendial", sa.Integer(), nullable=False),
        sa.Column("fresh_hold_days", sa.Integer(), nullable=False),
        sa.Column("cryo_hold_days", sa.Integer(), nullable=False),
        sa.Column("inbound_days", sa.Integer(), nullable=False),
        sa.Column("ship_days", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=150), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_sched_product_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sched_product")),
        sa.UniqueConstraint(
            "organisation_id",
            "product_code",
            name=op.f("uq_sched_product_organisation_id_product_code"),
        ),
    )
    with op.batch_alter_table("sched_product", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sched_product_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "sched_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("based_on_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("plan_day", sa.Date(), nullable=False),
        sa.Column("problem", sa.JSON(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("solver", sa.JSON(), nullable=False),
        sa.Column("validation", sa.JSON(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("inputs_sha256", sa.String(length=64), nullable=False),
        sa.Column("plan_sha256", sa.String(length=64), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=150), nullable=False),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["based_on_id"], ["sched_plan.id"], name=op.f("fk_sched_plan_based_on_id_sched_plan")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_sched_plan_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["published_by_id"],
            ["app_user.id"],
            name=op.f("fk_sched_plan_published_by_id_app_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sched_plan")),
        sa.UniqueConstraint(
            "organisation_id", "version", name=op.f("uq_sched_plan_organisation_id_version")
        ),
    )
    with op.batch_alter_table("sched_plan", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sched_plan_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "sched_suite",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("infectious", sa.Boolean(), nullable=False),
        sa.Column("changeover_days", sa.Integer(), nullable=False),
        sa.Column("decon_days", sa.Integer(), nullable=False),
        sa.Column("available_from", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=150), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_sched_suite_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_sched_suite_site_id_site")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sched_suite")),
        sa.UniqueConstraint(
            "organisation_id", "code", name=op.f("uq_sched_suite_organisation_id_code")
        ),
    )
    with op.batch_alter_table("sched_suite", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sched_suite_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sched_suite_site_id"), ["site_id"], unique=False)

    op.create_table(
        "sched_downtime",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("suite_id", sa.Integer(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=150), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.String(length=150), nullable=True),
        sa.Column("cancel_reason", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_sched_downtime_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["suite_id"], ["sched_suite.id"], name=op.f("fk_sched_downtime_suite_id_sched_suite")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sched_downtime")),
    )
    with op.batch_alter_table("sched_downtime", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sched_downtime_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sched_downtime_suite_id"), ["suite_id"], unique=False)

    op.create_table(
        "sched_plan_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("based_on_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("inputs_sha256", sa.String(length=64), nullable=False),
        sa.Column("plan_sha256", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=150), nullable=False),
        sa.Column("published_plan_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["based_on_id"],
            ["sched_plan.id"],
            name=op.f("fk_sched_plan_draft_based_on_id_sched_plan"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_sched_plan_draft_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["published_plan_id"],
            ["sched_plan.id"],
            name=op.f("fk_sched_plan_draft_published_plan_id_sched_plan"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sched_plan_draft")),
    )
    with op.batch_alter_table("sched_plan_draft", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sched_plan_draft_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "sched_plan_slot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("order_number", sa.String(length=40), nullable=False),
        sa.Column("suite_code", sa.String(length=32), nullable=True),
        sa.Column("start", sa.Date(), nullable=True),
        sa.Column("end", sa.Date(), nullable=True),
        sa.Column("release", sa.Date(), nullable=True),
        sa.Column("ship", sa.Date(), nullable=True),
        sa.Column("required_by", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["coi_order.id"], name=op.f("fk_sched_plan_slot_order_id_coi_order")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_sched_plan_slot_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["sched_plan.id"], name=op.f("fk_sched_plan_slot_plan_id_sched_plan")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sched_plan_slot")),
        sa.UniqueConstraint(
            "plan_id", "order_id", name=op.f("uq_sched_plan_slot_plan_id_order_id")
        ),
    )
    with op.batch_alter_table("sched_plan_slot", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sched_plan_slot_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sched_plan_slot_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sched_plan_slot_plan_id"), ["plan_id"], unique=False)

    _create_triggers()


def downgrade() -> None:
    _drop_triggers()
    with op.batch_alter_table("sched_plan_slot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sched_plan_slot_plan_id"))
        batch_op.drop_index(batch_op.f("ix_sched_plan_slot_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_sched_plan_slot_order_id"))

    op.drop_table("sched_plan_slot")
    with op.batch_alter_table("sched_plan_draft", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sched_plan_draft_organisation_id"))

    op.drop_table("sched_plan_draft")
    with op.batch_alter_table("sched_downtime", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sched_downtime_suite_id"))
        batch_op.drop_index(batch_op.f("ix_sched_downtime_organisation_id"))

    op.drop_table("sched_downtime")
    with op.batch_alter_table("sched_suite", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sched_suite_site_id"))
        batch_op.drop_index(batch_op.f("ix_sched_suite_organisation_id"))

    op.drop_table("sched_suite")
    with op.batch_alter_table("sched_plan", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sched_plan_organisation_id"))

    op.drop_table("sched_plan")
    with op.batch_alter_table("sched_product", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sched_product_organisation_id"))

    op.drop_table("sched_product")
    op.drop_table("sched_lab")


# A published plan is a version: never overwritten, never deleted. The database itself refuses
# UPDATE and DELETE on published plans and their slots.
IMMUTABLE = ("sched_plan", "sched_plan_slot")


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
        "CREATE FUNCTION sched_plan_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION '% is immutable: % refused', TG_TABLE_NAME, TG_OP; END $$"
    )
    for table in IMMUTABLE:
        op.execute(
            f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION sched_plan_refuse()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION sched_plan_refuse()"
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
    op.execute("DROP FUNCTION IF EXISTS sched_plan_refuse()")
