"""`v2v audit verify` and the verify page use the heads of signed reviews (issue 10, finding 6).

``audit.verify(anchors=...)`` could locate a tail rewritten with recomputed hashes, but nothing
passed it anchors. Now every signed audit-trail review's head is an anchor, always, and
``--head`` (and the page's field) also takes ``SEQ:HASH``.
"""

from __future__ import annotations

import json

from tests import factories
from tests.factories import PASSWORD
from tests.integration.test_audit_anchors import _head, _rewrite_from, _write
from tests.webclient import logged_in
from typer.testing import CliRunner

from vein2vein.audittrail import service as reviews
from vein2vein.auth import service
from vein2vein.auth.tables import User
from vein2vein.features import create_cli
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor

cli = create_cli()
runner = CliRunner()


def _verify(env: dict[str, str], *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(cli, ["audit", "verify", *args], env=env)


def _signed_review(db: Database, qa: User) -> tuple[int, str]:
    """A review signed by ``qa``: the head (sequence, hash) it anchors."""
    with db.uow(Actor(qa.username, qa.id, qa.organisation_id)) as uow:
        scope = service.scope_of(uow.session.get_one(User, qa.id))
        review = reviews.create_review(uow, scope, "periodic review")
        reviews.sign_review(
            uow, scope, db.settings, review.id, username=qa.username, password=PASSWORD
        )
        uow.commit()
        return review.to_seq, review.head_hash


def test_a_rewrite_after_signed_reviews_is_located_between_them(
    cli_db: Database, cli_env: dict[str, str]
) -> None:
    cdmo = factories.org(cli_db, "CDMO")
    qa = factories.user(cli_db, cdmo, "qa_reviewer", username="qa")
    _write(cli_db, 3)
    first = _signed_review(cli_db, qa)
    _write(cli_db, 4)
    second = _signed_review(cli_db, qa)
    _write(cli_db, 2)
    ok = _verify(cli_env)
    assert ok.exit_code == 0 and "2 heads of signed reviews match" in ok.output
    _rewrite_from(cli_db, first[0] + 2)  # after the first review's head, before the second's
    res = _verify(cli_env)
    assert res.exit_code == 1
    assert f"between sequence {first[0] + 1} and {second[0]}" in res.output
    assert f"BROKEN at sequence {first[0] + 1}" in res.output
    data = json.loads(_verify(cli_env, "--json").output)
    assert (data["ok"], data["broken_seq"], data["review_anchors"]) == (False, first[0] + 1, 2)


def test_head_takes_seq_colon_hash(cli_db: Database, cli_env: dict[str, str]) -> None:
    _write(cli_db, 5)
    seq, value = _head(cli_db)
    _write(cli_db, 3)
    assert _verify(cli_env, "--head", f"{seq}:{value}").exit_code == 0
    _rewrite_from(cli_db, 3)
    assert _verify(cli_env).exit_code == 0  # no anchor: a consistent rewrite cannot be seen
    res = _verify(cli_env, "--head", f"{seq}:{value}")
    assert res.exit_code == 1 and f"between sequence 1 and {seq}" in res.output
    res = _verify(cli_env, "--head", value)  # a bare hash still works: it is gone
    assert res.exit_code == 1 and "not in the chain" in res.output
    for bad in ("x:" + value, "5:abc", f"-1:{value}"):
        res = _verify(cli_env, "--head", bad)
        assert res.exit_code == 2 and "SHA-256" in res.output, (bad, res.output)


def test_the_verify_page_uses_signed_reviews_and_seq_hash(sqlite_db: Database) -> None:
    cdmo = factories.org(sqlite_db, "CDMO")
    qa = factories.user(sqlite_db, cdmo, "qa_reviewer", username="qa")
    _write(sqlite_db, 3)
    anchor = _signed_review(sqlite_db, qa)
    _write(sqlite_db, 3)
    c, _ = logged_in(sqlite_db, "qa", PASSWORD)
    page = c.get("/audit/verify")
    assert page.status_code == 200 and 'data-verify="ok"' in page.text
    assert "heads of 1 signed reviews match" in page.text
    _rewrite_from(sqlite_db, 2)
    page = c.get("/audit/verify")
    assert 'data-verify="broken" data-seq="1"' in page.text
    assert f"between sequence 1 and {anchor[0]}" in page.text
    page = c.get("/audit/verify", params={"head": "12:nothex"})
    assert page.status_code == 422 and "SHA-256" in page.text
