"""user names unique whatever their case, in the database (issue 10 follow-up)

The service already refused "Alice" when "alice" existed, but two administrators creating both at
once could each pass that check; a unique index on ``lower(username)`` closes the race. Existing
databases with two names equal but for case (none in the demo; the service has refused them since
migration 0005's release) make this upgrade fail with the names listed, to be resolved by hand.

Revision ID: 0012
Revises: 0005
Create Date: 2026-12-06 17:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    clashes = bind.execute(
        sa.text(
            "SELECT lower(username) AS name, count(*) FROM app_user "
            "GROUP BY lower(username) HAVING count(*) > 1"
        )
    ).all()
    if clashes:
        names = ", ".join(row.name for row in clashes)
        raise RuntimeError(
            f"user names equal but for case must be renamed before this upgrade: {names}"
        )
    op.create_index(
        "uq_app_user_username_lower", "app_user", [sa.text("lower(username)")], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_app_user_username_lower", table_name="app_user")
