"""Lock-out without enumeration and without a weapon for anonymous clients (issue 10, finding 1).

The probe found that the log-in answer told a locked account from an unknown name, that the
right password on a locked account was told apart from a wrong one (a guessing oracle), and that
anyone could lock any account, admin included, until an administrator came, cutting off its API
tokens as well. Now (``auth/lockout.py``): one answer for every failure, a pause of the password
that ends by itself and doubles with each further failure, and tokens and sessions untouched by
a pause that log-in attempts caused. On both engines.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from tests import factories
from tests.factories import PASSWORD

from vein2vein.auth import lockout, service, sessions, signatures, tokens
from vein2vein.auth.tables import ApiToken, User
from vein2vein.core.clock import set_clock, utcnow
from vein2vein.core.errors import AuthenticationFailed
from vein2vein.store import audit
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor

WRONG = "wrong-password-123"


@pytest.fixture
def clock() -> Iterator[list[dt.datetime]]:
    """A clock the test moves: ``clock[0] += ...``."""
    now = [utcnow()]
    set_clock(lambda: now[0])
    try:
        yield now
    finally:
        set_clock(None)


def _login(db: Database, username: str, password: str) -> User:
    with db.uow(Actor.anonymous()) as uow:
        user = service.authenticate(uow, db.settings, username, password)
        uow.commit()
        return user


def _refusal(db: Database, username: str, password: str) -> AuthenticationFailed:
    with pytest.raises(AuthenticationFailed) as err:
        _login(db, username, password)
    return err.value


def _entries(db: Database, action: str) -> list[audit.AuditEntry]:
    with db.read() as session:
        return [e for e in audit.query(session) if e.action == action]


def _user(db: Database, username: str) -> User:
    with db.read() as session:
        return session.scalars(select(User).where(User.username == username)).one()


def _lock(db: Database, username: str) -> None:
    for _ in range(db.settings.lockout_threshold):
        _refusal(db, username, WRONG)


def test_unknown_wrong_and_locked_get_one_answer(db: Database) -> None:
    cdmo = factories.org(db, "CDMO")
    factories.user(db, cdmo, "admin", username="root")
    unknown = _refusal(db, "nobody", WRONG)
    wrong = _refusal(db, "root", WRONG)
    for _ in range(db.settings.lockout_threshold - 2):
        _refusal(db, "root", WRONG)
    locking = _refusal(db, "root", WRONG)  # the attempt that locks
    assert _user(db, "root").password_locked
    locked_wrong = _refusal(db, "root", WRONG)
    locked_right = _refusal(db, "root", PASSWORD)  # no oracle: a right guess looks wrong
    answers = {(e.message, e.status, e.title) for e in (unknown, locked_wrong, locked_right)}
    answers |= {(e.message, e.status, e.title) for e in (wrong, locking)}
    assert answers == {(service.INVALID_LOGIN, 401, "Authentication failed")}


def test_every_failure_costs_one_argon2_verification(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Similar timing: an unknown name and a paused password verify a dummy hash made with
    the same parameters as an account's, instead of answering at once."""
    cdmo = factories.org(db, "CDMO")
    user = factories.user(db, cdmo, "operator", username="ann")
    checked: list[str] = []
    real = service.verify_password

    def counting(password_hash: str, password: str) -> bool:
        checked.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(service, "verify_password", counting)
    for name in ("nobody", "ann", "ann", "ann", "ann", "ann", "ann", "ann"):
        checked.clear()
        _refusal(db, name, WRONG)
        assert len(checked) == 1
    params = user.password_hash.split("$")[3]  # m=...,t=...,p=...
    assert checked[0].split("$")[3] == params and checked[0] != user.password_hash


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_the_three_answers_do_the_same_work(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown name, a wrong password and a paused password each cost exactly one Argon2
    verification with the same parameters (the dummy hash is made with the profile's own), so
    they take the same time. Counted, not timed: a wall-clock comparison is at the mercy of
    the machine's load (it failed under a shared CI runner), the work done is not."""
    from vein2vein.auth import passwords

    calls: list[str] = []
    verify = passwords._verify

    def counted(password_hash: str, password: str) -> bool:
        calls.append(password_hash.split("$")[3])  # the Argon2 parameters: m=…,t=…,p=…
        return verify(password_hash, password)

    cdmo = factories.org(db, "CDMO")
    factories.user(db, cdmo, "operator", username="tim")
    factories.user(db, cdmo, "operator", username="paused")
    _lock(db, "paused")
    monkeypatch.setattr(passwords, "_verify", counted)
    work = {}
    for name in ("nobody", "paused", "tim"):
        calls.clear()
        _refusal(db, name, WRONG)
        work[name] = list(calls)
    assert [len(w) for w in work.values()] == [1, 1, 1], work
    assert len({w[0] for w in work.values()}) == 1, work  # the same Argon2 parameters


def test_a_pause_ends_by_itself_and_doubles_with_each_further_failure(
    db: Database, clock: list[dt.datetime]
) -> None:
    cdmo = factories.org(db, "CDMO")
    factories.user(db, cdmo, "operator", username="kai")
    _lock(db, "kai")
    first = _user(db, "kai")
    assert first.locked_until == clock[0] + lockout.FIRST_PAUSE
    # guesses during the pause are not checked, not counted and do not extend it
    for _ in range(3):
        _refusal(db, "kai", WRONG)
    assert _user(db, "kai").failed_logins == db.settings.lockout_threshold
    assert len(_entries(db, "auth.login_refused")) == 3
    clock[0] += lockout.FIRST_PAUSE + dt.timedelta(seconds=1)
    assert not _user(db, "kai").password_locked
    # after a pause one wrong guess pauses again, twice as long
    _refusal(db, "kai", WRONG)
    second = _user(db, "kai")
    assert second.locked_until == clock[0] + 2 * lockout.FIRST_PAUSE
    clock[0] += 2 * lockout.FIRST_PAUSE + dt.timedelta(seconds=1)
    assert _login(db, "kai", PASSWORD).failed_logins == 0  # the right password ends the count
    after = _user(db, "kai")
    assert (after.locked_at, after.locked_until) == (None, None)
    lockouts = _entries(db, "auth.lockout")
    assert [json.loads(e.after or "{}")["pause_minutes"] for e in lockouts] == [15, 30]
    assert all(json.loads(e.after or "{}")["sessions_ended"] is False for e in lockouts)


def test_pauses_grow_to_a_day_and_no_longer() -> None:
    lengths = [lockout.pause_length(n, 5) for n in range(5, 20)]
    assert lengths[0] == dt.timedelta(minutes=15) and lengths[1] == dt.timedelta(minutes=30)
    assert max(lengths) == lockout.LONGEST_PAUSE == dt.timedelta(hours=24)
    assert lengths == sorted(lengths)
    assert lockout.pause_length(10**9, 5) == lockout.LONGEST_PAUSE


def test_an_anonymous_lock_leaves_sessions_and_tokens_working(db: Database) -> None:
    """Anyone can lock an administrator's password for a while; nobody can cut off the
    administrator's open session or API token that way."""
    cdmo = factories.org(db, "CDMO")
    admin = factories.user(db, cdmo, "admin", username="boss")
    with db.uow(Actor("boss", admin.id)) as uow:
        user = uow.session.get_one(User, admin.id)
        live = sessions.start_session(uow, user)
        _, plain = tokens.create_token(uow, service.scope_of(user), "nightly export", 30)
        uow.commit()
    _lock(db, "boss")
    assert _user(db, "boss").status == "locked"
    assert tokens.resume_token(db, plain).username == "boss"
    assert sessions.resume(db, live.token).scope.username == "boss"
    with db.read() as session:
        assert session.scalars(select(ApiToken.revoked_at)).all() == [None]
    assert _entries(db, "token.revoke") == [] and _entries(db, "auth.session_end") == []


def test_a_pause_caused_inside_a_session_ends_the_sessions(db: Database) -> None:
    """Wrong passwords at signing come from someone holding a session of the user."""
    from vein2vein.audittrail import service as reviews

    cdmo = factories.org(db, "CDMO")
    qa = factories.user(db, cdmo, "qa_reviewer", username="quinn")
    with db.uow(Actor("quinn", qa.id, cdmo.id)) as uow:
        user = uow.session.get_one(User, qa.id)
        live = sessions.start_session(uow, user)
        review = reviews.create_review(uow, service.scope_of(user), "monthly")
        uow.commit()
    for _ in range(db.settings.lockout_threshold):
        with db.uow(Actor("quinn", qa.id, cdmo.id)) as uow, pytest.raises(AuthenticationFailed):
            signatures.sign(
                uow,
                db.settings,
                signer_id=qa.id,
                username="quinn",
                password=WRONG,
                record_type=reviews.REVIEW,
                record_id=review.id,
                organisation_id=None,
                meaning="reviewed",
                content=reviews.review_content(uow.session.get_one(type(review), review.id)),
            )
    assert _user(db, "quinn").password_locked
    with pytest.raises(sessions.SessionExpired):
        sessions.resume(db, live.token)
    # while paused, the right password does not sign either
    with (
        db.uow(Actor("quinn", qa.id, cdmo.id)) as uow,
        pytest.raises(AuthenticationFailed, match="paused"),
    ):
        signatures.sign(
            uow,
            db.settings,
            signer_id=qa.id,
            username="quinn",
            password=PASSWORD,
            record_type=reviews.REVIEW,
            record_id=review.id,
            organisation_id=None,
            meaning="reviewed",
            content=reviews.review_content(uow.session.get_one(type(review), review.id)),
        )
    (locked,) = _entries(db, "auth.lockout")
    assert json.loads(locked.after or "{}")["sessions_ended"] is True


def test_an_administrator_unlocks_at_once_and_the_count_restarts(db: Database) -> None:
    cdmo = factories.org(db, "CDMO")
    factories.user(db, cdmo, "operator", username="lee")
    _lock(db, "lee")
    with db.uow(Actor("admin")) as uow:
        service.unlock_user(uow, factories.SERVER, "lee", "identity confirmed by phone")
        uow.commit()
    assert _login(db, "lee", PASSWORD).username == "lee"
    _refusal(db, "lee", WRONG)
    assert _user(db, "lee").failed_logins == 1 and not _user(db, "lee").password_locked


def test_a_disabled_account_is_no_unlimited_oracle(db: Database) -> None:
    """Wrong guesses at a disabled account count and pause like any other; only the right
    password of a disabled account, outside a pause, hears that it is disabled."""
    cdmo = factories.org(db, "CDMO")
    u = factories.user(db, cdmo, "operator", username="old")
    with db.uow(Actor("admin")) as uow:
        service.disable_user(uow, factories.SERVER, u.id, "left")
        uow.commit()
    _lock(db, "old")
    assert _refusal(db, "old", PASSWORD).message == service.INVALID_LOGIN
    assert len(_entries(db, "auth.lockout")) == 1


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_over_http_the_answers_are_identical_and_an_administrator_sees_the_pause(
    db: Database,
) -> None:
    import re

    from tests.webclient import client, logged_in, login

    cdmo = factories.org(db, "CDMO")
    factories.user(db, cdmo, "admin", username="admin")
    target = factories.user(db, cdmo, "operator", username="lee")
    anonymous = client(db)

    def answer(username: str, password: str) -> tuple[int, str]:
        r = login(anonymous, username, password)
        found = re.search(r'<p class="error" role="alert">([^<]*)</p>', r.text)
        return r.status_code, found.group(1) if found else ""

    answers = {answer("nobody", WRONG)}
    answers |= {answer("lee", WRONG) for _ in range(db.settings.lockout_threshold)}
    answers.add(answer("lee", PASSWORD))  # paused: the right password looks wrong
    assert len(answers) == 1 and answers.pop()[0] == 401
    c, token = logged_in(db, "admin", PASSWORD)
    page = c.get(f"/users/{target.id}")
    assert "password paused until" in page.text and "/unlock" in page.text
    r = c.post(f"/users/{target.id}/unlock", data={"reason": "called", "csrf_token": token})
    assert r.status_code == 200 and "password paused until" not in r.text
    assert "/unlock" not in r.text
    assert login(client(db), "lee", PASSWORD).status_code == 200
