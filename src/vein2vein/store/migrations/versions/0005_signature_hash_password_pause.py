"""signature hash (content and signer's identity); password pauses with an end (issue 10)

- ``signature.hash``: SHA-256 over the hash of the signed content and who signed it, as what and
  when; computed here for the signatures made before, in the one canonical form new signatures
  use (``auth.signatures.signature_hash``; the frozen copy below is checked against it by
  ``tests/integration/test_signature_verification.py``). Signatures are append-only: the
  triggers are set aside for this one update and put back.
- ``app_user.locked_until``: a lock-out is now a pause of the password that ends by itself
  (``auth/lockout.py``). Accounts locked before are paused for the first pause's length from the
  time they were locked (most will have ended already).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 10:00:00
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

from vein2vein.core.canonical import sha256_hex
from vein2vein.core.clock import iso_utc
from vein2vein.store.base import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: frozen copy of ``auth.signatures.SIGNED_FIELDS`` (a migration does not import a feature)
SIGNED_FIELDS = (
    "record_type",
    "record_id",
    "organisation_id",
    "content_hash",
    "user_id",
    "username",
    "printed_name",
    "meaning",
    "signed_at",
    "reason",
    "locks_record",
)
FIRST_PAUSE = dt.timedelta(minutes=15)

_signature = sa.table(
    "signature",
    sa.column("id", sa.Integer()),
    sa.column("record_type", sa.String()),
    sa.column("record_id", sa.String()),
    sa.column("organisation_id", sa.Integer()),
    sa.column("content_hash", sa.String()),
    sa.column("user_id", sa.Integer()),
    sa.column("username", sa.String()),
    sa.column("printed_name", sa.String()),
    sa.column("meaning", sa.String()),
    sa.column("signed_at", UTCDateTime()),
    sa.column("reason", sa.Text()),
    sa.column("locks_record", sa.Boolean()),
    sa.column("hash", sa.String()),
)
_user = sa.table(
    "app_user",
    sa.column("id", sa.Integer()),
    sa.column("locked_at", UTCDateTime()),
    sa.column("locked_until", UTCDateTime()),
)

SQLITE_SIGNATURE_TRIGGERS = {
    "signature_no_update": """CREATE TRIGGER signature_no_update BEFORE UPDATE ON signature
       BEGIN SELECT RAISE(ABORT, 'signature is append-only: UPDATE refused'); END""",
    "signature_no_delete": """CREATE TRIGGER signature_no_delete BEFORE DELETE ON signature
       BEGIN SELECT RAISE(ABORT, 'signature is append-only: DELETE refused'); END""",
}


def signature_hash(values: dict[str, object]) -> str:
    """Frozen copy of ``auth.signatures.signature_hash`` over a row's values."""
    fields = {name: values[name] for name in SIGNED_FIELDS}
    fields["signed_at"] = iso_utc(fields["signed_at"])  # type: ignore[arg-type]
    return sha256_hex({"signature": 1} | fields)


def upgrade() -> None:
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    bind = op.get_bind()
    for user_id, locked_at in bind.execute(
        sa.select(_user.c.id, _user.c.locked_at).where(_user.c.locked_at.is_not(None))
    ).all():
        bind.execute(
            _user.update().where(_user.c.id == user_id).values(locked_until=locked_at + FIRST_PAUSE)
        )

    sqlite = bind.dialect.name == "sqlite"
    if sqlite:  # a table rebuilt by batch mode loses its triggers anyway
        for name in SQLITE_SIGNATURE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        op.execute("ALTER TABLE signature DISABLE TRIGGER signature_no_update_delete")
    op.add_column("signature", sa.Column("hash", sa.String(length=64), nullable=True))
    columns = [getattr(_signature.c, name) for name in ("id", *SIGNED_FIELDS)]
    for row in bind.execute(sa.select(*columns)).mappings().all():
        bind.execute(
            _signature.update()
            .where(_signature.c.id == row["id"])
            .values(hash=signature_hash(dict(row)))
        )
    with op.batch_alter_table("signature", schema=None) as batch_op:
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
    if sqlite:
        for sql in SQLITE_SIGNATURE_TRIGGERS.values():
            op.execute(sql)
    else:
        op.execute("ALTER TABLE signature ENABLE TRIGGER signature_no_update_delete")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for name in SQLITE_SIGNATURE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table("signature", schema=None) as batch_op:
        batch_op.drop_column("hash")
    if sqlite:
        for sql in SQLITE_SIGNATURE_TRIGGERS.values():
            op.execute(sql)
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_column("locked_until")
