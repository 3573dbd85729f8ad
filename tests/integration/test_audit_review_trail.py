"""The audit trail as a reviewer reads it (issue 11): names of records within the caller's
scope, filters, keyset pages beyond 500 entries, CSV and PDF exports with the chain's head, and
reviews signed over the digest of the entries they show. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import shutil
import subprocess

import pytest
from sqlalchemy import select, text
from tests import factories
from tests.factories import PASSWORD

from vein2vein.audittrail import export, views
from vein2vein.audittrail import service as reviews
from vein2vein.audittrail.filters import parse_filter
from vein2vein.auth import service
from vein2vein.auth.scope import Scope
from vein2vein.auth.signatures import content_matches, find_bad_signature
from vein2vein.auth.tables import Signature, User
from vein2vein.core.canonical import sha256_hex
from vein2vein.features import entity_labels
from vein2vein.store import audit
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor


def _scope(db: Database, user: User) -> Scope:
    with db.read() as session:
        return service.scope_of(session.get_one(User, user.id))


def _world(db: Database) -> dict[str, object]:
    cdmo = factories.org(db, "CDMO", "Northbridge CDMO")
    helixa = factories.org(db, name="Helixa Therapeutics")
    corvane = factories.org(db, name="Corvane Bio")
    return {
        "cdmo": cdmo,
        "helixa": helixa,
        "corvane": corvane,
        "qa": _scope(db, factories.user(db, cdmo, "qa_reviewer", "grace")),
        "helixa_user": _scope(db, factories.user(db, helixa, "sponsor_clinical", "sam")),
        "corvane_user": _scope(db, factories.user(db, corvane, "sponsor_clinical", "laura")),
        "helixa_program": factories.program(db, helixa, "HLX-EPC-01"),
        "corvane_program": factories.program(db, corvane, "CRV-CD19-02"),
    }


def _append(db: Database, n: int, *, at: dt.datetime | None = None, org: int = 1) -> None:
    with db.uow(Actor("loader", None, org)) as uow:
        for i in range(n):
            audit.append(
                uow.session,
                actor="loader",
                actor_id=None,
                organisation_id=org,
                action="thing.change",
                entity_type="thing",
                entity_id=i,
                after={"v": i},
                at=at,
            )
        uow.commit()


# --- names --------------------------------------------------------------------------------


def test_records_are_named_and_a_sponsor_never_learns_another_sponsors_names(
    db: Database,
) -> None:
    w = _world(db)
    helixa_prog, corvane_prog = w["helixa_program"], w["corvane_program"]
    refs = {
        ("program", str(helixa_prog.id)),  # type: ignore[attr-defined]
        ("program", str(corvane_prog.id)),  # type: ignore[attr-defined]
        ("organisation", str(w["corvane"].id)),  # type: ignore[attr-defined]
        ("user", str(w["corvane_user"].user_id)),  # type: ignore[attr-defined]
    }
    with db.read() as session:
        as_qa = entity_labels(session, w["qa"], refs)  # type: ignore[arg-type]
        as_helixa = entity_labels(session, w["helixa_user"], refs)  # type: ignore[arg-type]
    assert as_qa[("program", str(corvane_prog.id))] == "Program CRV-CD19-02: Test program"  # type: ignore[attr-defined]
    assert as_qa[("organisation", str(w["corvane"].id))] == "Organisation Corvane Bio"  # type: ignore[attr-defined]
    assert as_qa[("user", str(w["corvane_user"].user_id))] == "User Test Sponsor Clinical (laura)"  # type: ignore[attr-defined]
    assert as_helixa == {("program", str(helixa_prog.id)): "Program HLX-EPC-01: Test program"}  # type: ignore[attr-defined]

    with db.read() as session:
        helixa_rows = views.entries(session, w["helixa_user"], newest_first=True)  # type: ignore[arg-type]
        qa_rows = views.entries(session, w["qa"], newest_first=True)  # type: ignore[arg-type]
    shown = json.dumps(helixa_rows, default=str)
    assert "HLX-EPC-01" in shown
    assert "Corvane" not in shown and "CRV-CD19-02" not in shown and "laura" not in shown
    created = [r for r in qa_rows if r["action"] == "program.create"]
    assert {r["entity_label"] for r in created} == {
        "Program HLX-EPC-01: Test program",
        "Program CRV-CD19-02: Test program",
    }
    assert {r["organisation_label"] for r in created} == {
        "Organisation Helixa Therapeutics",
        "Organisation Corvane Bio",
    }


# --- filters and pages ---------------------------------------------------------------------


def test_each_filter_narrows_the_trail(db: Database) -> None:
    w = _world(db)
    qa = w["qa"]
    _append(db, 3, at=dt.datetime(2026, 3, 28, 22, 59, tzinfo=dt.UTC))  # 28 Mar, 23:59 CET
    _append(db, 2, at=dt.datetime(2026, 3, 28, 23, 0, tzinfo=dt.UTC))  # 29 Mar, 00:00 CET
    _append(db, 4, at=dt.datetime(2026, 3, 29, 22, 0, tzinfo=dt.UTC))  # 30 Mar, 00:00 CEST

    def seqs(**typed: object) -> list[int]:
        f = parse_filter(zone="Europe/Brussels", **typed)  # type: ignore[arg-type]
        with db.read() as session:
            return [r["seq"] for r in views.page(session, qa, f, size=1000)["entries"]]  # type: ignore[arg-type]

    with db.read() as session:
        everything = [r.to_dict() for r in audit.query(session)]

    def expected(pred: object) -> list[int]:
        return sorted((r["seq"] for r in everything if pred(r)), reverse=True)  # type: ignore[operator]

    assert seqs(user="grace") == expected(lambda r: r["actor"] == "grace")
    assert seqs(user="loader") == expected(lambda r: r["actor"] == "loader")
    assert seqs(action="program.create") == expected(lambda r: r["action"] == "program.create")
    assert len(seqs(entity_type="program")) == 2
    assert seqs(entity_type="organisation", entity_id=str(w["corvane"].id)) == expected(  # type: ignore[attr-defined]
        lambda r: r["entity_type"] == "organisation" and r["entity_id"] == str(w["corvane"].id)  # type: ignore[attr-defined]
    )
    corvane_id = w["corvane"].id  # type: ignore[attr-defined]
    assert seqs(organisation=str(corvane_id)) == expected(
        lambda r: r["organisation_id"] == corvane_id
    )
    assert seqs(organisation=str(corvane_id))  # not empty
    things = expected(lambda r: r["action"] == "thing.change")
    assert seqs(date_from="2026-03-29", date_to="2026-03-29") == things[4:6]
    assert seqs(date_from="2026-03-30", date_to="2026-03-30") == things[:4]
    assert seqs(date_to="2026-03-28", action="thing.change") == things[6:]
    # a sponsor's user choosing another organisation sees nothing, not its entries
    f = parse_filter(organisation=str(corvane_id))
    with db.read() as session:
        assert views.page(session, w["helixa_user"], f)["total"] == 0  # type: ignore[arg-type]


def test_pages_walk_past_500_entries_without_a_cap(db: Database) -> None:
    w = _world(db)
    _append(db, 1234)
    with db.read() as session:
        total = audit.count(session)
    assert total > 1234
    seen: list[int] = []
    below = None
    pages = 0
    while True:
        with db.read() as session:
            found = views.page(session, w["qa"], parse_filter(), below=below)  # type: ignore[arg-type]
        assert found["total"] == total
        assert len(found["entries"]) == min(100, total - len(seen))
        seen += [r["seq"] for r in found["entries"]]
        pages += 1
        if found["older"] is None:
            break
        below = found["older"]
    assert seen == list(range(total, 0, -1))
    assert pages == -(-total // 100)
    # and back: the newer page of the last page is the one before it
    with db.read() as session:
        back = views.page(session, w["qa"], parse_filter(), above=found["newer"])  # type: ignore[arg-type]
    assert [r["seq"] for r in back["entries"]] == seen[
        -len(found["entries"]) - 100 : -len(found["entries"])
    ]


# --- exports -------------------------------------------------------------------------------


def _csv(content: bytes) -> tuple[dict[str, str], list[dict[str, str]]]:
    lines = content.decode("utf-8").splitlines(keepends=True)
    meta = {}
    for line in lines:
        if not line.startswith("# "):
            break
        key, _, value = line[2:].strip().partition(": ")
        meta[key] = value
    body = "".join(line for line in lines if not line.startswith("#"))
    return meta, list(csv.DictReader(io.StringIO(body)))


def test_the_csv_export_holds_the_filtered_entries_and_the_head_and_is_audited(
    db: Database,
) -> None:
    w = _world(db)
    qa = w["qa"]
    f = parse_filter(action="program.create")
    with db.read() as session:
        exported = export.build_export(session, qa, f, "csv")  # type: ignore[arg-type]
        head = audit.head(session)
        stored = [r for r in audit.query(session) if r.action == "program.create"]
    meta, rows = _csv(exported.content)
    assert meta["Chain head at export"] == f"sequence {head.seq}, SHA-256 {head.hash}"
    assert meta["Filters"] == "Action = program.create"
    assert [int(r["seq"]) for r in rows] == [r.seq for r in stored]
    for row, entry in zip(rows, stored, strict=True):
        assert row["hash"] == entry.hash and row["prev_hash"] == entry.prev_hash
        assert row["after_json"] == entry.after  # canonical JSON, as hashed
        assert row["recorded_at_utc"] == entry.recorded_at and row["recorded_at_utc"].endswith("Z")
        assert "+ code: " in row["changes"]
    assert {r["entity_name"] for r in rows} == {
        "Program HLX-EPC-01: Test program",
        "Program CRV-CD19-02: Test program",
    }
    with db.uow(Actor(qa.username, qa.user_id, qa.organisation_id)) as uow:  # type: ignore[attr-defined]
        export.record_export(uow, exported)
        uow.commit()
    with db.read() as session:
        last = audit.query(session, newest_first=True, limit=1)[0].to_dict()
    assert last["action"] == "audit.export" and last["actor"] == "grace"
    assert last["after"]["sha256"] == hashlib.sha256(exported.content).hexdigest()
    assert (last["after"]["head_seq"], last["after"]["head_hash"]) == (head.seq, head.hash)
    assert last["after"]["entries"] == 2


def test_a_sponsors_export_holds_only_its_entries(db: Database) -> None:
    w = _world(db)
    with db.read() as session:
        exported = export.build_export(session, w["helixa_user"], parse_filter(), "csv")  # type: ignore[arg-type]
    _, rows = _csv(exported.content)
    assert rows and {r["organisation_id"] for r in rows} == {str(w["helixa"].id)}  # type: ignore[attr-defined]
    assert b"Corvane" not in exported.content and b"CRV-CD19-02" not in exported.content


def test_the_pdf_export_states_the_head_filters_and_entries(db: Database) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    w = _world(db)
    f = parse_filter(entity_type="program")
    with db.read() as session:
        exported = export.build_export(session, w["qa"], f, "pdf")  # type: ignore[arg-type]
        head = audit.head(session)
    assert exported.content.startswith(b"%PDF")
    pdf_text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"],
        input=exported.content,
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8")
    assert f"Chain head at export: sequence {head.seq}, SHA-256 {head.hash}" in pdf_text
    assert "Filters: Entity type = program" in pdf_text
    assert "Program HLX-EPC-01: Test program (program:" in pdf_text
    assert "Program CRV-CD19-02: Test program" in pdf_text
    assert f"Audit trail head at export: #{head.seq} {head.hash}" in pdf_text  # every footer
    assert pdf_text.count("program.create") == 2


# --- reviews -------------------------------------------------------------------------------


def _tamper(db: Database, seq: int) -> None:
    """Alter one entry and recompute every hash from it on (triggers dropped, as a forger with
    the owner's rights would): the chain stays internally consistent."""
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "sqlite":
            for name in ("audit_log_no_update", "audit_log_no_delete", "audit_log_insert_chain"):
                conn.execute(text(f"DROP TRIGGER {name}"))
        else:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        names = (*audit.HASHED_FIELDS, "hash")
        rows = conn.execute(text(f"SELECT {', '.join(names)} FROM audit_log ORDER BY seq")).all()
        prev = audit.GENESIS_HASH
        for values in rows:
            row = dict(zip(names, values, strict=True))
            if row["seq"] >= seq:
                if row["seq"] == seq:
                    row["reason"] = "altered"
                row["prev_hash"] = prev
                row["hash"] = audit.compute_hash(type("Row", (), row))
                conn.execute(
                    text(
                        "UPDATE audit_log SET reason = :reason, prev_hash = :prev_hash, "
                        "hash = :hash WHERE seq = :seq"
                    ),
                    row,
                )
            prev = row["hash"]


def test_a_review_is_signed_over_the_entries_it_shows(db: Database) -> None:
    w = _world(db)
    qa_user = factories.user(db, w["cdmo"], "qa_reviewer", "henrik", password=PASSWORD)  # type: ignore[arg-type]
    qa = _scope(db, qa_user)
    with db.uow(Actor(qa.username, qa.user_id, qa.organisation_id)) as uow:
        review_id = reviews.create_review(uow, qa, "monthly").id
        uow.commit()
    with db.read() as session:
        shown = views.review(session, qa, review_id)
        pairs = session.execute(
            select(audit.AuditEntry.seq, audit.AuditEntry.hash)
            .where(audit.AuditEntry.seq <= shown["to_seq"])
            .order_by(audit.AuditEntry.seq)
        ).all()
    # the page shows the covered entries, and what is signed covers their hashes in order
    assert shown["from_seq"] == 1 and shown["covered"]["total"] == shown["to_seq"] == len(pairs)
    assert [e["seq"] for e in shown["covered"]["entries"]] == [s for s, _ in pairs][::-1][:100]
    digest = audit.hashes_digest(pairs)
    assert shown["entries_now"] == digest == shown["entries_sha256"]
    with db.uow(Actor(qa.username, qa.user_id, qa.organisation_id)) as uow:
        reviews.sign_review(
            uow,
            qa,
            db.settings,
            review_id,
            username=qa.username,
            password=PASSWORD,
            shown_hash=shown["shown_hash"],
        )
        uow.commit()
    with db.read() as session:
        sig = session.scalars(select(Signature)).one()
        content = reviews.review_content(reviews.get_review(session, qa, review_id))
        assert content["entries_now"] == digest
        assert content_matches(sig, content)
        assert find_bad_signature(session, {reviews.REVIEW: reviews._review_content_now}) is None
    # an entry the review covered is altered (and every later hash recomputed): the digest of
    # the entries now differs from the one signed, so the signature no longer matches them
    _tamper(db, 3)
    with db.read() as session:
        altered = reviews.review_content(reviews.get_review(session, qa, review_id))
        assert altered["entries_now"] != digest
        assert not content_matches(sig, altered)
        bad = find_bad_signature(session, {reviews.REVIEW: reviews._review_content_now})
    assert bad is not None and bad.signature_id == sig.id
    assert "no longer has the content that was signed" in bad.problem
    assert sha256_hex(altered) != sig.content_hash
