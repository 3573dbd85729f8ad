"""`v2v audit verify` checks every signature (issue 10, finding 5), on both engines.

The probe edited a signature's printed name in the database (triggers dropped) and verification
still passed. A signature now carries a hash over the signed content's hash and the signer's
identity, meaning and time; verification checks each row against that hash, against the audit
entry that recorded the signing (so recomputing the hash does not help), and a signed review
against its content now. Signatures made before the hash existed verify after migration 0005.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session
from tests import factories
from tests.conftest import PG_URL, make_settings, require_pg
from tests.factories import PASSWORD

from vein2vein.audittrail import service as reviews
from vein2vein.audittrail import views
from vein2vein.auth import service, signatures
from vein2vein.auth.tables import Signature, User
from vein2vein.core.canonical import canonical_json, sha256_hex
from vein2vein.core.clock import utcnow
from vein2vein.store import audit, migrate
from vein2vein.store.database import Database
from vein2vein.store.engine import normalise_url
from vein2vein.store.uow import Actor

MIGRATION = (
    Path(migrate.MIGRATIONS) / "versions" / "0005_signature_hash_password_pause.py"
).resolve()


def _signed_review(db: Database) -> tuple[Signature, int]:
    cdmo = factories.org(db, "CDMO")
    qa = factories.user(db, cdmo, "qa_reviewer", username="grace")
    with db.uow(Actor("grace", qa.id, cdmo.id)) as uow:
        scope = service.scope_of(uow.session.get_one(User, qa.id))
        review = reviews.create_review(uow, scope, "monthly review")
        uow.commit()
    with db.uow(Actor("grace", qa.id, cdmo.id)) as uow:
        scope = service.scope_of(uow.session.get_one(User, qa.id))
        sig = reviews.sign_review(
            uow, scope, db.settings, review.id, username="grace", password=PASSWORD
        )
        uow.commit()
        return sig, review.id


def _verify(db: Database, head: str | None = None) -> dict[str, object]:
    with db.read() as session:
        return views.verification(session, factories.SERVER, head)


def _tamper(db: Database, sql: str, **params: object) -> None:
    """Change signature rows as someone with the owner's rights would (triggers set aside)."""
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER IF EXISTS signature_no_update"))
        else:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(sql), params)


def test_an_untouched_signature_verifies(db: Database) -> None:
    sig, _ = _signed_review(db)
    result = _verify(db)
    assert result["ok"] and result["bad_signature"] is None and result["review_anchors"] == 1
    assert sig.hash == signatures.signature_hash(sig)


def test_an_edited_printed_name_is_caught(db: Database) -> None:
    sig, _ = _signed_review(db)
    _tamper(db, "UPDATE signature SET printed_name = 'Someone Else' WHERE id = :id", id=sig.id)
    result = _verify(db)
    assert not result["ok"] and result["bad_signature"] == sig.id
    assert f"signature {sig.id}: its fields do not match its hash" in str(result["problem"])
    assert result["broken_seq"] is None  # the chain itself is whole


@pytest.mark.parametrize("field", ["printed_name", "username", "meaning", "signed_at"])
def test_an_edit_with_its_hash_recomputed_is_caught_by_the_chain(db: Database, field: str) -> None:
    sig, _ = _signed_review(db)
    forged = {
        "printed_name": "Someone Else",
        "username": "someone",
        "meaning": "approved",
        "signed_at": sig.signed_at - dt.timedelta(days=3),
    }[field]
    with db.read() as session:
        row = session.get_one(Signature, sig.id)
        session.expunge(row)
    setattr(row, field, forged)
    value: object = forged
    if field == "signed_at" and db.engine.dialect.name == "sqlite":
        value = forged.replace(tzinfo=None)  # type: ignore[union-attr]
    _tamper(
        db,
        f"UPDATE signature SET {field} = :value, hash = :hash WHERE id = :id",
        value=value,
        hash=signatures.signature_hash(row),
        id=sig.id,
    )
    result = _verify(db)
    assert not result["ok"] and result["bad_signature"] == sig.id
    problem = str(result["problem"])
    assert "differs from the audit entry" in problem and field in problem


def test_a_signed_review_edited_in_the_database_is_caught(db: Database) -> None:
    sig, review_id = _signed_review(db)
    with db.engine.begin() as conn:  # reviews have no trigger: their signature protects them
        conn.execute(
            text("UPDATE audit_review SET comment = 'nothing to see' WHERE id = :id"),
            {"id": review_id},
        )
    result = _verify(db)
    assert not result["ok"] and result["bad_signature"] == sig.id
    assert "no longer has the content that was signed" in str(result["problem"])


def test_a_signature_inserted_out_of_band_is_caught(db: Database) -> None:
    sig, _ = _signed_review(db)
    with db.read() as session:
        row = session.get_one(Signature, sig.id)
        session.expunge(row)
    row.meaning = "approved"
    forged_hash = signatures.signature_hash(row)
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO signature (organisation_id, record_type, record_id, user_id, "
                "printed_name, username, meaning, signed_at, content_hash, reason, "
                "locks_record, hash) SELECT organisation_id, record_type, record_id, user_id, "
                "printed_name, username, 'approved', signed_at, content_hash, reason, "
                "locks_record, :hash FROM signature WHERE id = :id"
            ),
            {"hash": forged_hash, "id": sig.id},
        )
    result = _verify(db)
    assert not result["ok"] and result["bad_signature"] == sig.id + 1
    assert "inserted out of band" in str(result["problem"])


# --- signatures made before migration 0005 ---------------------------------------------------


def _migration_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("migration_0005", MIGRATION)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migration_computes_the_one_canonical_form() -> None:
    frozen = _migration_module()
    assert frozen.SIGNED_FIELDS == signatures.SIGNED_FIELDS
    row = Signature(
        record_type="audit_review",
        record_id="7",
        organisation_id=None,
        content_hash="ab" * 32,
        user_id=3,
        username="grace",
        printed_name="Grace Økafor",
        meaning="reviewed",
        signed_at=dt.datetime(2026, 5, 1, 12, 30, 0, 123456, tzinfo=dt.UTC),
        reason=None,
        locks_record=True,
    )
    values = {name: getattr(row, name) for name in signatures.SIGNED_FIELDS}
    assert frozen.signature_hash(values) == signatures.signature_hash(row)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database at revision 0004: before signatures had their hash."""
    if request.param == "sqlite":
        database = Database(make_settings(f"sqlite:///{tmp_path / 'old.db'}"))
        migrate.upgrade(database.engine, "0004")
        yield database
        database.dispose()
        return
    require_pg()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(normalise_url(PG_URL))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    database = Database(make_settings(PG_URL), schema=schema)
    try:
        migrate.upgrade(database.engine, "0004")
        yield database
    finally:
        database.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def _sign_the_old_way(db: Database) -> None:
    """What vein2vein did before 0005: a signature row without hash, and an audit entry of its
    public fields (no user id, no hash)."""
    now = utcnow()
    with Session(db.engine) as s:
        s.execute(
            text(
                "INSERT INTO organisation (id, name, kind, created_at) VALUES (1, 'N', 'CDMO', :t)"
            ),
            {"t": now},
        )
        s.execute(
            text(
                "INSERT INTO app_user (id, username, full_name, email, organisation_id, role, "
                "password_hash, password_changed_at, failed_logins, locked_at, created_at, "
                "must_change_password) VALUES (1, 'grace', 'Grace Okafor', '', 1, "
                "'qa_reviewer', 'x', :t, 5, :t, :t, false)"
            ),
            {"t": now},
        )
        audit.append(
            s,
            actor="grace",
            actor_id=1,
            organisation_id=1,
            action="x.y",
            entity_type="x",
            entity_id=1,
        )
        head = audit.head(s)
        review = {
            "id": 1,
            "from_seq": 1,
            "to_seq": head.seq,
            "head_hash": head.hash,
            "chain_ok": True,
            "entries": 1,
            "comment": "old review",
            "created_by": 1,
        }
        s.execute(
            text(
                "INSERT INTO audit_review (id, from_seq, to_seq, head_hash, chain_ok, entries, "
                "comment, created_by, created_at) VALUES (:id, :from_seq, :to_seq, :head_hash, "
                ":chain_ok, :entries, :comment, :created_by, :t)"
            ),
            review | {"t": now},
        )
        signed_at = dt.datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=dt.UTC)
        stored_at = (
            signed_at.replace(tzinfo=None) if db.engine.dialect.name == "sqlite" else signed_at
        )
        public = {
            "id": 1,
            "record_type": "audit_review",
            "record_id": "1",
            "printed_name": "Grace Okafor",
            "username": "grace",
            "meaning": "reviewed",
            "signed_at": signed_at.isoformat(),
            "content_hash": sha256_hex(review),
            "reason": None,
        }
        s.execute(
            text(
                "INSERT INTO signature (id, organisation_id, record_type, record_id, user_id, "
                "printed_name, username, meaning, signed_at, content_hash, reason, "
                "locks_record) VALUES (1, NULL, 'audit_review', '1', 1, 'Grace Okafor', "
                "'grace', 'reviewed', :at, :content, NULL, true)"
            ),
            {"at": stored_at, "content": public["content_hash"]},
        )
        audit.append(
            s,
            actor="grace",
            actor_id=1,
            organisation_id=None,
            action="signature.sign",
            entity_type="audit_review",
            entity_id=1,
            after=public,
        )
        s.commit()
    assert b'"hash"' not in canonical_json(public)


def test_signatures_made_before_the_hash_verify_after_migration(old_db: Database) -> None:
    _sign_the_old_way(old_db)
    migrate.upgrade(old_db.engine)
    result = _verify(old_db)
    assert result["ok"], result
    assert result["review_anchors"] == 1
    with old_db.read() as session:
        sig = session.scalars(select(Signature)).one()
        assert sig.hash == signatures.signature_hash(sig)
        user = session.get_one(User, 1)
        assert user.locked_until == user.locked_at + dt.timedelta(minutes=15)  # type: ignore[operator]
    # and they are still append-only, and still checked
    from sqlalchemy.exc import DBAPIError, IntegrityError

    with (
        pytest.raises((DBAPIError, IntegrityError), match="append-only"),
        old_db.engine.begin() as c,
    ):
        c.execute(text("UPDATE signature SET printed_name = 'X'"))
    _tamper(old_db, "UPDATE signature SET printed_name = 'Someone Else'")
    assert _verify(old_db)["bad_signature"] == 1
