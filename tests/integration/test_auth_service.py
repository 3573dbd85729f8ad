"""Organisations, users, roles, passwords, lock-out, tokens and e-signatures, on both engines."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import select
from tests import factories
from tests.factories import PASSWORD

from vein2vein.auth import service, sessions, signatures, tokens
from vein2vein.auth.tables import ApiToken, Signature, User
from vein2vein.core.clock import set_clock, utcnow
from vein2vein.core.errors import (
    AuthenticationFailed,
    Conflict,
    InputError,
    PermissionDenied,
    RecordLocked,
)
from vein2vein.store import audit
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor


def _actions(db: Database) -> list[str]:
    with db.read() as session:
        return [e.action for e in audit.query(session)]


def _login(db: Database, username: str, password: str) -> User:
    with db.uow(Actor.anonymous(username)) as uow:
        user = service.authenticate(uow, db.settings, username, password)
        uow.commit()
        return user


def test_organisation_kinds_and_duplicates(db: Database) -> None:
    factories.org(db, "CDMO", "Northbridge")
    with db.uow(Actor("t")) as uow:
        with pytest.raises(Conflict, match="already exists"):
            service.create_organisation(uow, factories.SERVER, "northbridge", "SPONSOR")
        with pytest.raises(InputError, match="CDMO or SPONSOR") as err:
            service.create_organisation(uow, factories.SERVER, "X", "HOSPITAL")
        assert err.value.field == "kind"


def test_unknown_role_and_role_of_the_wrong_kind(db: Database) -> None:
    sponsor = factories.org(db, "SPONSOR")
    with pytest.raises(InputError, match="unknown role 'superuser'") as err:
        factories.user(db, sponsor, "superuser")
    assert err.value.field == "role"
    with pytest.raises(InputError, match="belongs to CDMO organisations"):
        factories.user(db, sponsor, "qa_approver")
    assert _actions(db) == ["organisation.create"]  # nothing half-written


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short-1A", "at least 12 characters"),
        ("xx-jdoe-long-enough", "user name"),
        ("aaaaaaaaaaaaaaaa", "4 distinct"),
    ],
)
def test_password_policy(db: Database, password: str, problem: str) -> None:
    cdmo = factories.org(db, "CDMO")
    with pytest.raises(InputError, match=problem) as err:
        factories.user(db, cdmo, "operator", username="jdoe", password=password)
    assert err.value.field == "password"


def test_password_hashed_with_argon2_and_history_of_five(db: Database) -> None:
    cdmo = factories.org(db, "CDMO")
    user = factories.user(db, cdmo, "operator", username="pat")
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    passwords = [PASSWORD] + [f"Another-secret-{i}!" for i in range(1, 6)]
    for old, new in itertools.pairwise(passwords):
        with db.uow(Actor("pat")) as uow:
            u = uow.session.get_one(User, user.id)
            service.change_password(uow, service.scope_of(u), db.settings, old, new)
            uow.commit()
    # the last five (the current one and the four before it) are refused; the sixth is allowed
    for reused in passwords[1:]:
        with db.uow(Actor("pat")) as uow, pytest.raises(InputError, match="last 5"):
            u = uow.session.get_one(User, user.id)
            service.change_password(uow, service.scope_of(u), db.settings, passwords[-1], reused)
    with db.uow(Actor("pat")) as uow:
        u = uow.session.get_one(User, user.id)
        service.change_password(uow, service.scope_of(u), db.settings, passwords[-1], passwords[0])
        uow.commit()
    assert _login(db, "pat", passwords[0]).username == "pat"
    with db.read() as session:
        entries = audit.query(session, entity_type="user", entity_id=str(user.id))
    assert [e.action for e in entries].count("user.password_change") == 6
    assert all(PASSWORD not in (e.after or "") for e in entries)


def test_lockout_after_five_failures_is_audited(db: Database) -> None:
    cdmo = factories.org(db, "CDMO")
    factories.user(db, cdmo, "operator", username="sam")
    for _ in range(4):
        with pytest.raises(AuthenticationFailed, match="Invalid user name or password"):
            _login(db, "sam", "wrong-password-123")
    # issue 10: the attempt that locks and the right password while locked get the answer an
    # unknown name gets (nothing tells that the account exists, is locked, or was guessed)
    with pytest.raises(AuthenticationFailed) as err:
        _login(db, "sam", "wrong-password-123")
    assert err.value.message == service.INVALID_LOGIN
    with pytest.raises(AuthenticationFailed) as err:
        _login(db, "sam", PASSWORD)  # even the right password
    assert err.value.message == service.INVALID_LOGIN
    acts = _actions(db)
    assert acts.count("auth.login_failed") == 5
    assert acts.count("auth.lockout") == 1 and acts[-1] == "auth.login_refused"
    with db.uow(Actor("admin")) as uow:
        with pytest.raises(InputError, match="reason"):
            service.unlock_user(uow, factories.SERVER, "sam", " ")
        service.unlock_user(uow, factories.SERVER, "sam", "identity confirmed by phone")
        uow.commit()
    assert _login(db, "sam", PASSWORD).failed_logins == 0


def test_unknown_user_gets_the_same_message_and_is_audited(db: Database) -> None:
    with pytest.raises(AuthenticationFailed) as err:
        _login(db, "nobody", "whatever-password")
    assert err.value.message == service.INVALID_LOGIN
    assert _actions(db) == ["auth.login_failed"]


def test_role_change_and_disable_are_audited_with_reason(db: Database) -> None:
    cdmo = factories.org(db, "CDMO")
    u = factories.user(db, cdmo, "operator", username="kim")
    with db.uow(Actor("admin")) as uow:
        service.set_role(uow, factories.SERVER, u.id, "qa_reviewer", "promoted to QA")
        service.disable_user(uow, factories.SERVER, u.id, "left the company")
        uow.commit()
    with db.read() as session:
        entries = audit.query(session, entity_type="user", entity_id=str(u.id))
    change = next(e for e in entries if e.action == "user.role_change")
    assert change.reason == "promoted to QA"
    assert '"role":"operator"' in change.before and '"role":"qa_reviewer"' in change.after
    with pytest.raises(AuthenticationFailed, match="disabled"):
        _login(db, "kim", PASSWORD)


def test_api_tokens_are_hashed_at_rest_and_revocable(db: Database) -> None:
    cdmo = factories.org(db, "CDMO")
    u = factories.user(db, cdmo, "qc_analyst")
    with db.uow(Actor("t")) as uow:
        user = uow.session.get_one(User, u.id)
        tok, plain = tokens.create_token(uow, service.scope_of(user), "LIMS upload", 30)
        uow.commit()
    with db.read() as session:
        stored = session.scalars(select(ApiToken)).one()
        assert plain not in (stored.token_hash, stored.prefix) and plain.startswith("v2v_")
    with db.uow(Actor("t")) as uow:
        assert tokens.user_for_token(uow, plain).id == u.id
        uow.commit()
    with db.uow(Actor("t")) as uow:
        tokens.revoke_token(uow, service.scope_of(uow.session.get_one(User, u.id)), tok.id)
        uow.commit()
    with db.uow(Actor("t")) as uow, pytest.raises(AuthenticationFailed, match="revoked"):
        tokens.user_for_token(uow, plain)


def test_idle_session_times_out(db: Database) -> None:
    cdmo = factories.org(db, "CDMO")
    u = factories.user(db, cdmo, "operator")
    with db.uow(Actor("t")) as uow:
        new = sessions.start_session(uow, uow.session.get_one(User, u.id))
        uow.commit()
    start = utcnow()
    try:
        set_clock(lambda: start + dt.timedelta(minutes=14))
        with db.uow(Actor("t")) as uow:
            sessions.resume_session(uow, db.settings, new.token)
            uow.commit()
        set_clock(lambda: start + dt.timedelta(minutes=30))
        with db.uow(Actor("t")) as uow, pytest.raises(sessions.SessionExpired, match="15 minutes"):
            sessions.resume_session(uow, db.settings, new.token)
    finally:
        set_clock(None)
    assert _actions(db)[-1] == "auth.session_end"


# --- electronic signatures -----------------------------------------------------------------


def _review(db: Database, reviewer: User):  # type: ignore[no-untyped-def]
    from vein2vein.audittrail import service as reviews

    with db.uow(Actor(reviewer.username, reviewer.id, reviewer.organisation_id)) as uow:
        r = reviews.create_review(
            uow, service.scope_of(uow.session.get_one(User, reviewer.id)), "monthly review"
        )
        uow.commit()
        return r


def _sign(  # type: ignore[no-untyped-def]
    db: Database,
    user: User,
    password: str,
    review,
    meaning: str = "reviewed",
    username: str | None = None,
    shown_hash: str | None = None,
):
    from vein2vein.audittrail import service as reviews

    with db.uow(Actor(user.username, user.id, user.organisation_id)) as uow:
        sig = signatures.sign(
            uow,
            db.settings,
            signer_id=user.id,
            username=username or user.username,
            password=password,
            record_type=reviews.REVIEW,
            record_id=review.id,
            organisation_id=None,
            meaning=meaning,
            content=reviews.review_content(uow.session.get_one(type(review), review.id)),
            shown_hash=shown_hash,
        )
        uow.commit()
        return sig


def test_signature_records_name_time_meaning_hash_and_locks(db: Database) -> None:
    from vein2vein.audittrail import service as reviews
    from vein2vein.core.canonical import sha256_hex

    cdmo = factories.org(db, "CDMO")
    qa = factories.user(db, cdmo, "qa_reviewer")
    review = _review(db, qa)
    sig = _sign(db, qa, PASSWORD, review)
    assert sig.printed_name == "Test Qa Reviewer" and sig.meaning == "reviewed"
    assert sig.signed_at.tzinfo is not None
    with db.read() as session:  # the content covers the reviewed entries, read in a session
        signed_content = reviews.review_content(session.get_one(type(review), review.id))
    assert sig.content_hash == sha256_hex(signed_content)
    with db.uow(Actor(qa.username, qa.id)) as uow, pytest.raises(RecordLocked, match="signed"):
        reviews.update_review_comment(
            uow,
            service.scope_of(uow.session.get_one(User, qa.id)),
            review.id,
            "changed after signing",
        )
    with db.read() as session:
        assert signatures.content_matches(
            session.scalars(select(Signature)).one(),
            reviews.review_content(session.get_one(type(review), review.id)),
        )
    assert "signature.sign" in _actions(db)


def test_wrong_password_at_signing_signs_nothing(db: Database) -> None:
    cdmo = factories.org(db, "CDMO")
    qa = factories.user(db, cdmo, "qa_reviewer")
    review = _review(db, qa)
    with pytest.raises(AuthenticationFailed, match="nothing was signed"):
        _sign(db, qa, "not-my-password", review)
    with pytest.raises(AuthenticationFailed, match="user name or password"):
        _sign(db, qa, PASSWORD, review, username="someone.else")
    with db.read() as session:
        assert session.scalars(select(Signature)).all() == []
        assert session.get_one(User, qa.id).failed_logins == 2
    assert _actions(db)[-1] == "signature.failed"


def test_meaning_needs_the_right_role(db: Database) -> None:
    cdmo = factories.org(db, "CDMO")
    qa = factories.user(db, cdmo, "qa_reviewer")
    review = _review(db, qa)
    with pytest.raises(PermissionDenied, match="released"):
        _sign(db, qa, PASSWORD, review, meaning="released")
    with pytest.raises(InputError, match="unknown signature meaning"):
        _sign(db, qa, PASSWORD, review, meaning="blessed")


def test_signature_refused_when_the_record_changed_after_it_was_shown(db: Database) -> None:
    from vein2vein.audittrail import service as reviews
    from vein2vein.core.canonical import sha256_hex

    cdmo = factories.org(db, "CDMO")
    qa = factories.user(db, cdmo, "qa_reviewer")
    review = _review(db, qa)
    with db.read() as session:
        shown = sha256_hex(reviews.review_content(session.get_one(type(review), review.id)))
    with db.uow(Actor(qa.username, qa.id)) as uow:
        reviews.update_review_comment(
            uow, service.scope_of(uow.session.get_one(User, qa.id)), review.id, "edited meanwhile"
        )
        uow.commit()
    with (
        db.uow(Actor(qa.username, qa.id)) as uow,
        pytest.raises(Conflict, match="changed after it was shown"),
    ):
        scope = service.scope_of(uow.session.get_one(User, qa.id))
        reviews.sign_review(
            uow,
            scope,
            db.settings,
            review.id,
            username=qa.username,
            password=PASSWORD,
            shown_hash=shown,
        )
    with db.read() as session:
        assert session.scalars(select(Signature)).all() == []


def test_signatures_cannot_be_deleted_or_altered_in_the_database(db: Database) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError, IntegrityError

    cdmo = factories.org(db, "CDMO")
    qa = factories.user(db, cdmo, "qa_reviewer")
    _sign(db, qa, PASSWORD, _review(db, qa))
    for sql in ("DELETE FROM signature", "UPDATE signature SET meaning = 'approved'"):
        with (
            pytest.raises((DBAPIError, IntegrityError), match="append-only"),
            db.engine.begin() as conn,
        ):
            conn.execute(text(sql))


def test_parallel_wrong_passwords_are_all_counted(db: Database) -> None:
    """Two-writer rule (STYLE 10): guesses sent at once cannot dodge the lock-out."""
    import threading

    cdmo = factories.org(db, "CDMO")
    factories.user(db, cdmo, "operator", username="target")
    outcomes: list[str] = []

    def guess() -> None:
        try:
            _login(db, "target", "wrong-password-000")
        except AuthenticationFailed as exc:
            outcomes.append(exc.message)

    threads = [threading.Thread(target=guess) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 8
    with db.read() as session:
        user = session.scalars(select(User).where(User.username == "target")).one()
        assert user.failed_logins == 5 and user.locked_at is not None
    assert _actions(db).count("auth.lockout") == 1


def test_wrong_current_password_on_change_counts_towards_lockout(db: Database) -> None:
    cdmo = factories.org(db, "CDMO")
    u = factories.user(db, cdmo, "operator", username="amy")
    for i in range(4):
        with db.uow(Actor("amy")) as uow, pytest.raises(InputError, match="not correct"):
            scope = service.scope_of(uow.session.get_one(User, u.id))
            service.change_password(uow, scope, db.settings, f"guess-{i}", "New-password-123")
    with db.uow(Actor("amy")) as uow, pytest.raises(AuthenticationFailed, match="locked"):
        scope = service.scope_of(uow.session.get_one(User, u.id))
        service.change_password(uow, scope, db.settings, "guess-5", "New-password-123")
    assert _actions(db).count("user.password_change_failed") == 5


def test_locked_and_disabled_accounts_reveal_nothing_to_a_wrong_password(db: Database) -> None:
    cdmo = factories.org(db, "CDMO")
    u = factories.user(db, cdmo, "operator", username="dan")
    with db.uow(Actor("admin")) as uow:
        service.disable_user(uow, factories.SERVER, u.id, "left")
        uow.commit()
    with pytest.raises(AuthenticationFailed) as err:
        _login(db, "dan", "wrong-password-1")
    assert err.value.message == service.INVALID_LOGIN
    with pytest.raises(AuthenticationFailed, match="disabled"):
        _login(db, "dan", PASSWORD)


def test_failed_login_for_unknown_name_is_not_filed_under_a_user(db: Database) -> None:
    with pytest.raises(AuthenticationFailed):
        _login(db, "1", "whatever-password")
    with db.read() as session:
        entry = audit.query(session)[-1]
    # issue 10: the name typed is not kept (it may be a password typed in the wrong field)
    assert (entry.entity_type, entry.entity_id) == ("login_attempt", "unknown user name")


def test_tokens_always_expire(db: Database) -> None:
    cdmo = factories.org(db, "CDMO")
    u = factories.user(db, cdmo, "qc_analyst")
    with db.uow(Actor("t")) as uow:
        user = uow.session.get_one(User, u.id)
        for days in (0, 367, None):
            with pytest.raises(InputError, match="between 1 and 366"):
                tokens.create_token(uow, service.scope_of(user), "x", days)  # type: ignore[arg-type]
        tok, _ = tokens.create_token(uow, service.scope_of(user), "default")
        assert tok.expires_at is not None


def test_reset_password_ends_sessions_and_revokes_tokens(db: Database) -> None:
    cdmo = factories.org(db, "CDMO")
    u = factories.user(db, cdmo, "qc_analyst")
    with db.uow(Actor("t")) as uow:
        user = uow.session.get_one(User, u.id)
        new = sessions.start_session(uow, user)
        _, plain = tokens.create_token(uow, service.scope_of(user), "script", 5)
        uow.commit()
    with db.uow(Actor("admin")) as uow:
        service.reset_password(
            uow, factories.SERVER, db.settings, u.id, "Brand-new-pass-77", "forgotten"
        )
        uow.commit()
    with db.uow(Actor("t")) as uow, pytest.raises(sessions.SessionExpired):
        sessions.resume_session(uow, db.settings, new.token)
    with db.uow(Actor("t")) as uow, pytest.raises(AuthenticationFailed):
        tokens.user_for_token(uow, plain)
    with db.read() as session:
        assert session.get_one(User, u.id).must_change_password


def test_over_long_values_are_input_errors_on_both_engines(db: Database) -> None:
    sponsor = factories.org(db, "SPONSOR")
    with pytest.raises(InputError, match="at most 200") as err, db.uow(Actor("t")) as uow:
        service.create_user(
            uow,
            factories.SERVER,
            db.settings,
            username="x1",
            full_name="N" * 300,
            organisation=sponsor.id,
            role="sponsor_viewer",
            password=PASSWORD,
        )
    assert err.value.field == "full_name"
    from vein2vein.programs.service import create_program

    with db.uow(Actor("t")) as uow, pytest.raises(InputError) as err:
        create_program(uow, factories.SERVER, sponsor.id, code="P1", name="x", target="T" * 80)
    assert err.value.field == "target"


def test_user_names_equal_but_for_case_race_to_one_user(db: Database) -> None:
    """Two administrators create "Alice" and "alice" at once: one user, one Conflict (the
    database's unique index on lower(username) decides when both pass the service's check)."""
    import threading

    cdmo = factories.org(db, "CDMO")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def create(name: str) -> None:
        barrier.wait()
        try:
            factories.user(db, cdmo, "operator", username=name)
            outcomes.append("created")
        except Conflict as exc:
            outcomes.append(exc.message)

    threads = [threading.Thread(target=create, args=(n,)) for n in ("Alice", "alice")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes)[0] == "created" and "is taken" in sorted(outcomes)[1]
    with db.read() as session:
        names = session.scalars(select(User.username).where(User.username.ilike("alice"))).all()
    assert len(names) == 1


def test_the_database_itself_refuses_a_name_equal_but_for_case(db: Database) -> None:
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    cdmo = factories.org(db, "CDMO")
    factories.user(db, cdmo, "operator", username="bob")
    table = User.__table__
    with db.engine.connect() as conn:
        row = dict(conn.execute(select(table).where(table.c.username == "bob")).mappings().one())
    row.pop("id")
    with pytest.raises(IntegrityError), db.engine.begin() as conn:
        conn.execute(insert(table).values(**{**row, "username": "BOB"}))
