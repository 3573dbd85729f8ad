"""Signing an audit-trail review: who may sign it, and an edit racing a signature (issue 10)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import select
from tests import factories
from tests.factories import PASSWORD

from vein2vein.audittrail import service as reviews
from vein2vein.auth import service
from vein2vein.auth.scope import Scope
from vein2vein.auth.tables import Signature, User
from vein2vein.core.canonical import sha256_hex
from vein2vein.core.errors import Conflict, PermissionDenied, RecordLocked
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor


def _scope(db: Database, user: User) -> Scope:
    with db.read() as session:
        return service.scope_of(session.get_one(User, user.id))


def _new_review(db: Database, scope: Scope, comment: str = "monthly review") -> int:
    with db.uow(Actor(scope.username, scope.user_id, scope.organisation_id)) as uow:
        review_id = reviews.create_review(uow, scope, comment).id
        uow.commit()
    return review_id


def _content(db: Database, scope: Scope, review_id: int) -> dict[str, object]:
    with db.read() as session:
        return reviews.review_content(reviews.get_review(session, scope, review_id))


def test_an_administrator_may_not_sign_a_review(db: Database) -> None:
    """The admin holds ``sign.authored`` but not ``audit.review``: no signature, no lock."""
    cdmo = factories.org(db, "CDMO")
    qa = _scope(db, factories.user(db, cdmo, "qa_reviewer"))
    admin = _scope(db, factories.user(db, cdmo, "admin", password=PASSWORD))
    review_id = _new_review(db, qa)
    with (
        db.uow(Actor(admin.username, admin.user_id)) as uow,
        pytest.raises(PermissionDenied, match=r"audit\.review"),
    ):
        reviews.sign_review(
            uow,
            admin,
            db.settings,
            review_id,
            username=admin.username,
            password=PASSWORD,
            meaning="authored",
        )
    with db.read() as session:
        assert session.scalars(select(Signature)).all() == []
    with db.uow(Actor(qa.username, qa.user_id)) as uow:  # still editable
        reviews.update_review_comment(uow, qa, review_id, "still open")
        uow.commit()


def _outcome(action: Any) -> str:
    try:
        action()
    except (RecordLocked, Conflict) as exc:
        return type(exc).__name__
    return "ok"


def test_an_edit_and_a_signature_at_the_same_moment_never_both_land(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two writers (STYLE 10): the edit and the signature take the same row lock before looking
    at the record's signatures, so exactly one of them lands, and a signature that lands signed
    the content the review has.

    Each round lets one side hold what it has taken while the other starts (the signer inside
    ``sign``, with the row locked; the editor right after its lock check), alternating sides: an
    edit that checked for signatures without the row lock was let through on PostgreSQL while
    the signature landed.
    """
    cdmo = factories.org(db, "CDMO")
    qa = _scope(db, factories.user(db, cdmo, "qa_reviewer"))
    real_sign, real_check = reviews.sign, reviews.ensure_unlocked
    pause = {"sign": threading.Event(), "edit": threading.Event()}  # set: that side pauses
    inside = {"sign": threading.Event(), "edit": threading.Event()}

    def slow_sign(*args: Any, **kwargs: Any) -> Any:
        inside["sign"].set()
        if pause["sign"].is_set():
            time.sleep(0.4)
        return real_sign(*args, **kwargs)

    def slow_check(*args: Any, **kwargs: Any) -> None:
        real_check(*args, **kwargs)
        inside["edit"].set()
        if pause["edit"].is_set():
            time.sleep(0.4)

    monkeypatch.setattr(reviews, "sign", slow_sign)
    monkeypatch.setattr(reviews, "ensure_unlocked", slow_check)

    for round_ in range(10):
        first, second = ("sign", "edit") if round_ % 2 == 0 else ("edit", "sign")
        for flag in (*pause.values(), *inside.values()):
            flag.clear()
        pause[first].set()
        review_id = _new_review(db, qa, f"round {round_}")
        outcomes = _race(db, qa, review_id, first, second, inside[first])
        assert sorted(outcomes.values()).count("ok") == 1, (round_, outcomes)
        signed = outcomes["sign"] == "ok"
        assert outcomes["edit" if signed else "sign"] == ("RecordLocked" if signed else "Conflict")
        with db.read() as session:
            sigs = session.scalars(
                select(Signature).where(Signature.record_id == str(review_id))
            ).all()
        content = _content(db, qa, review_id)
        if signed:
            assert len(sigs) == 1 and sigs[0].content_hash == sha256_hex(content)
            assert content["comment"] == f"round {round_}"
        else:
            assert sigs == [] and content["comment"] == "edited at the same moment"


def _race(
    db: Database, qa: Scope, review_id: int, first: str, second: str, first_inside: threading.Event
) -> dict[str, str]:
    """Edit and sign the review in two threads, ``second`` starting once ``first`` is inside;
    what became of each (ok, RecordLocked, Conflict)."""
    shown = sha256_hex(_content(db, qa, review_id))
    actor = Actor(qa.username, qa.user_id)

    def edit() -> None:
        with db.uow(actor) as uow:
            reviews.update_review_comment(uow, qa, review_id, "edited at the same moment")
            uow.commit()

    def sign() -> None:
        with db.uow(actor) as uow:
            reviews.sign_review(
                uow,
                qa,
                db.settings,
                review_id,
                username=qa.username,
                password=PASSWORD,
                shown_hash=shown,
            )
            uow.commit()

    actions = {"edit": edit, "sign": sign}
    outcomes: dict[str, str] = {}

    def run(side: str) -> None:
        if side == second:
            assert first_inside.wait(10)
        outcomes[side] = _outcome(actions[side])

    threads = [threading.Thread(target=run, args=(side,)) for side in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return outcomes
