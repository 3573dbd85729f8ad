"""Master batch records in the store, on SQLite and PostgreSQL: import, three distinct signers in
order, effective only after approval, superseding, edits refused once signed, scope, audit, and
two approvers signing the last signature at the same moment."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import select
from tests.mbr_world import V1, V2, MbrWorld, actor, import_file, make_effective, make_world, sign

from vein2vein.auth.tables import Signature
from vein2vein.core.canonical import sha256_hex
from vein2vein.core.errors import (
    Conflict,
    InputError,
    NotFound,
    PermissionDenied,
    RecordLocked,
    RuleViolation,
)
from vein2vein.manufacturing import domain, mbr_views, mbrs
from vein2vein.manufacturing.tables import MasterBatchRecord
from vein2vein.store.audit import AuditEntry
from vein2vein.store.database import Database


def _status(db: Database, mbr_id: int) -> str:
    with db.read() as session:
        return session.get_one(MasterBatchRecord, mbr_id).status


def _edit_moi(db: Database, world: MbrWorld, mbr_id: int, high: float = 3.4) -> None:
    with db.uow(actor(world.author)) as uow:
        mbrs.edit_parameter(
            uow,
            world.author,
            mbr_id,
            "TRANSDUCE",
            "moi",
            target=3,
            nor=(2.5, high),
            par=(2, 5),
            reason="narrower NOR",
        )
        uow.commit()


def test_import_signs_in_order_and_becomes_effective_after_approval(db: Database) -> None:
    world = make_world(db)
    mbr_id = import_file(db, world.author, V1)
    assert _status(db, mbr_id) == "DRAFT"
    with pytest.raises(RuleViolation, match="authored first"):
        sign(db, world.reviewer, mbr_id, "reviewed")
    sign(db, world.author, mbr_id, "authored")
    assert _status(db, mbr_id) == "IN_REVIEW"
    with pytest.raises(RuleViolation, match="reviewed first"):
        sign(db, world.approver, mbr_id, "approved")
    sign(db, world.reviewer, mbr_id, "reviewed")
    assert _status(db, mbr_id) == "IN_REVIEW"
    sign(db, world.approver, mbr_id, "approved")
    assert _status(db, mbr_id) == "EFFECTIVE"
    with db.read() as session:
        row = session.get_one(MasterBatchRecord, mbr_id)
        sigs = session.scalars(select(Signature).where(Signature.record_id == str(mbr_id))).all()
        # every signature is over the stored content's hash, which is the hash of the model
        assert {s.content_hash for s in sigs} == {row.content_hash}
        assert row.content_hash == sha256_hex(domain.to_data(mbrs.model_of(row)))
        assert sorted(s.meaning for s in sigs) == ["approved", "authored", "reviewed"]
        assert row.version == 1 and row.effective_at is not None


def test_the_same_person_cannot_sign_twice_with_two_meanings(db: Database) -> None:
    """The approver holds every MBR permission; author, reviewer and approver must still be
    three different people."""
    world = make_world(db)
    mbr_id = import_file(db, world.approver, V1)
    sign(db, world.approver, mbr_id, "authored")
    with pytest.raises(RuleViolation, match="three different people"):
        sign(db, world.approver, mbr_id, "reviewed")
    sign(db, world.reviewer, mbr_id, "reviewed")
    with pytest.raises(RuleViolation, match="three different people"):
        sign(db, world.approver, mbr_id, "approved")
    assert _status(db, mbr_id) == "IN_REVIEW"
    sign(db, world.approver2, mbr_id, "approved")
    assert _status(db, mbr_id) == "EFFECTIVE"


def test_roles_without_the_meaning_cannot_sign(db: Database) -> None:
    world = make_world(db)
    mbr_id = import_file(db, world.author, V1)
    sign(db, world.author, mbr_id, "authored")
    with pytest.raises(PermissionDenied, match=r"mbr\.review"):
        sign(db, world.author, mbr_id, "reviewed")


def test_edits_are_refused_once_signed(db: Database) -> None:
    world = make_world(db)
    mbr_id = import_file(db, world.author, V1)
    _edit_moi(db, world, mbr_id)  # a draft is editable
    sign(db, world.author, mbr_id, "authored")
    with pytest.raises(RecordLocked, match="signed"):
        _edit_moi(db, world, mbr_id, high=3.3)
    with db.read() as session:
        model = mbrs.model_of(session.get_one(MasterBatchRecord, mbr_id))
    assert model.operation("TRANSDUCE").entry("moi").nor.high == 3.4  # type: ignore[union-attr]


def test_a_new_version_supersedes_the_effective_one_when_approved(db: Database) -> None:
    world = make_world(db)
    v1 = import_file(db, world.author, V1)
    with pytest.raises(RuleViolation, match="effective"), db.uow(actor(world.author)) as uow:
        mbrs.new_version(uow, world.author, v1, "too early")
    make_effective(db, world, v1)
    with db.uow(actor(world.author)) as uow:
        v2 = mbrs.new_version(uow, world.author, v1, "IL-2 range after trend review").id
        uow.commit()
    with pytest.raises(Conflict, match="still a draft"):
        import_file(db, world.author, V1)
    _edit_moi(db, world, v2)
    assert _status(db, v1) == "EFFECTIVE"  # until the new version is approved
    make_effective(db, world, v2)
    assert (_status(db, v1), _status(db, v2)) == ("SUPERSEDED", "EFFECTIVE")
    with db.read() as session:
        rows = mbr_views.mbr_list(session, world.author)
        diff = mbr_views.mbr_diff(session, world.author, v1, v2)
    assert [(r["version"], r["status"]) for r in rows] == [(2, "EFFECTIVE"), (1, "SUPERSEDED")]
    assert diff["changes"] == [
        {
            "kind": "changed",
            "path": "operations[TRANSDUCE].parameters[moi].nor.high",
            "before": 3.5,
            "after": 3.4,
        }
    ]


def test_each_site_has_its_own_effective_version(db: Database) -> None:
    world = make_world(db)
    v1, v2 = import_file(db, world.author, V1), import_file(db, world.author, V2)
    make_effective(db, world, v1)
    make_effective(db, world, v2)
    assert (_status(db, v1), _status(db, v2)) == ("EFFECTIVE", "EFFECTIVE")
    with db.read() as session:
        changes = mbr_views.mbr_diff(session, world.author, v1, v2)["changes"]
    paths = {c["path"] for c in changes}
    assert "site" in paths and "operations[HARVEST].controls[vcn]" in paths


def test_sponsors_read_their_own_programs_mbrs_only(db: Database) -> None:
    world = make_world(db)
    mbr_id = import_file(db, world.author, V1)
    with db.read() as session:
        assert [r["id"] for r in mbr_views.mbr_list(session, world.sponsor)] == [mbr_id]
        assert mbr_views.mbr_detail(session, world.sponsor, mbr_id)["mbr"]["id"] == mbr_id
        assert mbr_views.mbr_list(session, world.other_sponsor) == []
        with pytest.raises(NotFound):
            mbr_views.mbr_detail(session, world.other_sponsor, mbr_id)
    with pytest.raises(PermissionDenied), db.uow(actor(world.sponsor)) as uow:
        mbrs.remove_material(uow, world.sponsor, mbr_id, "BAG")
    with pytest.raises(NotFound), db.uow(actor(world.other_sponsor)) as uow:
        mbrs.remove_material(uow, world.other_sponsor, mbr_id, "BAG")


def test_every_change_is_audited(db: Database) -> None:
    world = make_world(db)
    mbr_id = import_file(db, world.author, V1)
    with db.uow(actor(world.author)) as uow:
        mbrs.remove_material(uow, world.author, mbr_id, "BAG", reason="bag is site stock")
        uow.commit()
    make_effective(db, world, mbr_id)
    with db.read() as session:
        entries = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity_type == "mbr", AuditEntry.entity_id == str(mbr_id))
            .order_by(AuditEntry.seq)
        ).all()
    actions = [e.action for e in entries]
    assert actions == [
        "mbr.import",
        "mbr.remove_material",
        "signature.sign",
        "mbr.status",
        "signature.sign",
        "signature.sign",
        "mbr.status",
    ]
    assert '"operations[FORMULATE].materials"' in entries[1].after
    assert entries[1].reason == "bag is site stock"


def test_bad_files_and_unknown_places_are_refused(db: Database) -> None:
    world = make_world(db)
    text = V1.read_text(encoding="utf-8")
    with pytest.raises(InputError, match="no program with the code 'NOPE'"):
        import_file(db, world.author, V1, text.replace("product: HLX-EPC-01", "product: NOPE"))
    with pytest.raises(InputError, match="no site named 'Mars'"):
        import_file(db, world.author, V1, text.replace("site: Site B — Ghent", "site: Mars"))
    with pytest.raises(PermissionDenied):
        import_file(db, world.sponsor, V1)


def test_two_approvers_signing_at_once_make_one_effective_version(db: Database) -> None:
    """STYLE 10: the approval is the last signature; two approvers who sign it at the same moment
    are serialised by the MBR's row lock: one approval, one effective version, and the other
    approver is told it was approved already."""
    world = make_world(db)
    v1 = import_file(db, world.author, V1)
    make_effective(db, world, v1)
    with db.uow(actor(world.author)) as uow:
        v2 = mbrs.new_version(uow, world.author, v1, "race").id
        uow.commit()
    sign(db, world.author, v2, "authored")
    sign(db, world.reviewer, v2, "reviewed")
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def approve(scope: Any) -> None:
        barrier.wait()
        try:
            sign(db, scope, v2, "approved")
            outcomes[scope.username] = "ok"
        except (Conflict, RuleViolation) as exc:
            outcomes[scope.username] = type(exc).__name__

    threads = [
        threading.Thread(target=approve, args=(s,)) for s in (world.approver, world.approver2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes.values()) == ["Conflict", "ok"], outcomes
    with db.read() as session:
        approvals = session.scalars(
            select(Signature).where(Signature.record_id == str(v2), Signature.meaning == "approved")
        ).all()
        effective = session.scalars(
            select(MasterBatchRecord).where(MasterBatchRecord.status == "EFFECTIVE")
        ).all()
        supersede = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "mbr.supersede")
        ).all()
    assert len(approvals) == 1
    assert [r.id for r in effective] == [v2]
    assert len(supersede) == 1
