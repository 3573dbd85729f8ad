"""The CTD tables on the demo, on SQLite and PostgreSQL (insights/ctd_*.py; docs/ctd.md): the
batch-analysis table lists every demo batch QA has decided on, with each test's result exactly
as stored (the rounded value and its judgement); a batch released later appears after
regeneration and the head hash printed changes; every generation is audited with the file's
hash and follows the head it printed; a sponsor reaches only its own program; the comparability
summary (3.2.P.2) shows the demo's approved protocol and its run with the numbers as stored,
and a program without a study says so. Files are read back with python-docx and pypdf."""

from __future__ import annotations

import hashlib
import io
import json
import re
from typing import Any

import docx
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from vein2vein.auth import service as auth
from vein2vein.auth.scope import Scope
from vein2vein.core.errors import InputError, NotFound
from vein2vein.demo.generator import DEMO_PASSWORD
from vein2vein.insights import ctd_service
from vein2vein.insights.comparability_tables import CmpProtocol, CmpRun
from vein2vein.manufacturing.tables import Batch
from vein2vein.programs.tables import Program
from vein2vein.quality import release
from vein2vein.quality.tables import QcResult
from vein2vein.stats.results import fmt
from vein2vein.store import audit
from vein2vein.store.audit import AuditEntry
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor

PROGRAM, READY = "HLX-EPC-01", "HLX-EPC-01-0011"
WORDS = {"conforms": "Conforms", "does not conform": "DOES NOT CONFORM", "reported": "Reported"}


def _scope(db: Database, who: str) -> Scope:
    with db.read() as s:
        return auth.scope_of(auth.user_by_username(s, who))


def _generate(db: Database, who: str, program: int | str, section: str, fmt: str) -> Any:
    scope = _scope(db, who)
    with db.uow(Actor(scope.username, scope.user_id, scope.organisation_id)) as uow:
        made = ctd_service.generate(uow, scope, program, section, fmt)
        uow.commit()
    return made


def _decided(db: Database) -> dict[str, int]:
    """Order number -> batch id of the program's batches QA has decided on."""
    with db.read() as s:
        rows = release.list_releases(s, _scope(db, "qa.approver"))
        ids = {r["batch"] for r in rows if r["product"] == PROGRAM and r["state"] != "pending"}
        return {b.order.number: b.id for b in s.scalars(select(Batch)) if b.id in ids}


def _columns(word: Any) -> dict[str, dict[str, str]]:
    """Batch number -> {row label: cell text} over every batch-analysis table."""
    out: dict[str, dict[str, str]] = {}
    for table in word.tables[1:]:
        head = [c.text for c in table.rows[0].cells]
        for row in table.rows[1:]:
            cells = [c.text for c in row.cells]
            for number, value in zip(head[2:], cells[2:], strict=True):
                out.setdefault(number, {})[cells[0].split("\n")[0]] = value
    return out


def test_batch_analyses_list_every_decided_batch_as_stored_and_follow_a_new_release(
    demo_db: Database,
) -> None:
    db = demo_db
    decided = _decided(db)
    assert len(decided) >= 5 and READY not in decided
    with db.read() as s:
        head_before = audit.head(s)
    first = _generate(db, "qa.approver", PROGRAM, "3.2.P.5.4", "docx")
    assert (first.head_seq, first.head_hash) == (head_before.seq, head_before.hash)
    word = docx.Document(io.BytesIO(first.data))
    included = word.tables[0]
    listed = [r.cells[1].text for r in included.rows[1:]]  # batch record ids
    assert sorted(int(x) for x in listed) == sorted(decided.values())
    columns = _columns(word)
    valid_ids: set[int] = set()
    with db.read() as s:
        for order, batch_id in decided.items():
            number = s.get_one(Batch, batch_id).order.batch_number
            shown = columns[number]
            stored = s.scalars(
                select(QcResult).where(QcResult.batch_id == batch_id, QcResult.valid.is_(True))
            ).all()
            assert stored, order
            valid_ids |= {r.id for r in stored}
            for r in stored:
                name = next(k for k in shown if k and r.test_code and k == _name(s, r))
                assert shown[name] == f"{r.rounded}\n{WORDS[r.outcome]}", (order, r.test_code)
    notes = "\n".join(p.text for p in word.paragraphs)
    assert f"Audit chain head at generation: #{first.head_seq} {first.head_hash}" in notes
    footnoted = {
        i for m in re.findall(r"results \(qc_result\) ([0-9, -]+)\.", notes) for i in _ids(m)
    }
    assert footnoted == set(first.records["qc_result"]) == valid_ids
    _audited(db, first)

    _release(db, decided_before=decided)
    second = _generate(db, "qa.approver", PROGRAM, "3.2.P.5.4", "pdf")
    assert second.head_hash != first.head_hash and second.head_seq > first.head_seq
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(second.data)).pages)
    assert "B-" + READY in text
    assert f"#{second.head_seq} {second.head_hash}" in text
    assert f"Page 1 of {len(PdfReader(io.BytesIO(second.data)).pages)}" in text
    with db.read() as s:
        new_id = s.scalars(select(Batch.id).join(Batch.order).where(_order_is(READY))).one()
    assert new_id in second.records["mfg_batch"] and new_id not in first.records["mfg_batch"]
    _audited(db, second)
    with db.read() as s:
        assert audit.verify(s).ok


def _order_is(number: str) -> Any:
    from vein2vein.identity.tables import Order

    return Order.number == number


def _name(session: Any, r: QcResult) -> str:
    from vein2vein.quality import specs

    model = specs.model_of(r.spec)
    return next(t.name for t in model.tests if t.code == r.test_code)


def _ids(ranges: str) -> set[int]:
    out: set[int] = set()
    for part in ranges.split(", "):
        lo, _, hi = part.partition("-")
        out |= set(range(int(lo), int(hi or lo) + 1))
    return out


def _release(db: Database, decided_before: dict[str, int]) -> None:
    scope = _scope(db, "qa.approver")
    with db.read() as s:
        batch_id = s.scalars(select(Batch.id).join(Batch.order).where(_order_is(READY))).one()
    with db.uow(Actor(scope.username, scope.user_id, scope.organisation_id)) as uow:
        release.release(
            uow, scope, db.settings, batch_id, username="qa.approver", password=DEMO_PASSWORD
        )
        uow.commit()
    assert set(_decided(db)) == set(decided_before) | {READY}


def _audited(db: Database, made: Any) -> None:
    """The generation's audit entry: the file's hash, and it follows the head printed."""
    with db.read() as s:
        entry = s.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == ctd_service.ACTION)
            .order_by(AuditEntry.seq.desc())
        ).first()
        assert entry is not None
        after = json.loads(entry.after)
        assert after["sha256"] == hashlib.sha256(made.data).hexdigest() == made.sha256
        assert (entry.seq - 1, entry.prev_hash) == (made.head_seq, made.head_hash)
        assert after["section"] == made.section and after["records"] == made.records


def test_sponsors_reach_only_their_program_and_unknown_sections_are_refused(
    demo_db: Database,
) -> None:
    db = demo_db
    with db.read() as s:
        programs = {p.code: p.id for p in s.scalars(select(Program))}
    other = next(code for code in programs if code != PROGRAM)
    with pytest.raises(NotFound):
        _generate(db, "corvane.clinical", programs[PROGRAM], "3.2.P.5.4", "pdf")
    with pytest.raises(NotFound):
        _generate(db, "corvane.clinical", PROGRAM, "3.2.P.3.3", "docx")
    own = _generate(db, "helixa.viewer", programs[PROGRAM], "3.2.P.3.3", "docx")
    theirs = _generate(db, "corvane.clinical", other, "3.2.P.3.3", "docx")
    with db.read() as s:
        orgs = {b.id: b.organisation_id for b in s.scalars(select(Batch))}
    assert {orgs[i] for i in own.records["mfg_batch"]} == {
        _scope(db, "helixa.viewer").organisation_id
    }
    assert {orgs[i] for i in theirs.records["mfg_batch"]} <= {
        _scope(db, "corvane.clinical").organisation_id
    }
    history = docx.Document(io.BytesIO(own.data)).tables[0]
    assert len(history.rows) - 1 == len(own.records["mfg_batch"])
    text = "\n".join(c.text for r in history.rows for c in r.cells)
    assert "Manufacture failed" in text and "Released" in text and other not in text
    cmp_theirs = _generate(db, "corvane.clinical", other, "3.2.P.2", "docx")
    assert cmp_theirs.records["cmp_run"] == []
    assert "No comparability study" in _cells(cmp_theirs.data)
    with pytest.raises(InputError, match="unknown CTD section"):
        _generate(db, "qa.approver", PROGRAM, "3.2.P.9", "pdf")
    with db.read() as s:
        count = s.scalars(select(AuditEntry).where(AuditEntry.action == ctd_service.ACTION)).all()
    assert len(count) == 3  # refusals write nothing


def _cells(data: bytes) -> str:
    word = docx.Document(io.BytesIO(data))
    cells = [c.text for t in word.tables for r in t.rows for c in r.cells]
    return "\n".join([*(p.text for p in word.paragraphs), *cells])


def test_comparability_summary_shows_the_approved_protocol_and_its_run_as_stored(
    demo_db: Database,
) -> None:
    db = demo_db
    made = _generate(db, "helixa.viewer", PROGRAM, "comparability", "docx")
    with db.read() as s:
        runs = s.scalars(select(CmpRun)).all()
        proto = {p.id: p for p in s.scalars(select(CmpProtocol))}
        ours = [r for r in runs if proto[r.protocol_id].program.code == PROGRAM]
        assert ours and all(proto[r.protocol_id].status == "approved" for r in ours)
        run = ours[-1]
        p = proto[run.protocol_id]
        label, stored = f"{p.number} v{p.version}", json.loads(run.result)
    assert made.section == "3.2.P.2"
    assert made.records["cmp_protocol"] == [p.id] and made.records["cmp_run"] == [run.id]
    text = _cells(made.data)
    assert f"{label} (protocol record {p.id})" in text
    assert "approved by Henrik Lindqvist" in text and "Leiden" in text
    for a in stored["attributes"]:
        res = a["result"] or {}
        if "ci_low" in res:  # the TOST: difference and interval as stored
            assert f"difference {fmt(res['difference'], 4)}" in text
            assert f"CI ({fmt(res['ci_low'], 4)}, {fmt(res['ci_high'], 4)})" in text
        elif "n_inside" in res:
            assert f"{res['n_inside']} of {res['n_test']} test lots inside" in text
        assert a["conclusion"] in text
        for w in a["warnings"]:
            assert w in text
    assert f"runs (cmp_run) {run.id}" in text
    assert f"Audit chain head at generation: #{made.head_seq} {made.head_hash}" in text
