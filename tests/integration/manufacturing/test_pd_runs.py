"""Process-development runs in the store and the release gate, on SQLite and PostgreSQL
(issue 12): a CSV/XLSX file imported as non-GMP records in one transaction (a bad cell names
file, sheet, row and column and writes nothing), values judged as GMP entries without
deviations, runs listed flagged, left out of the trend baseline unless asked for, never
executed, submitted or approved (service and database); the release gate's reasons; and the
0013 ↔ 0014 migration keeping batches, events and triggers."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from tests import batch_world as BW
from tests.integration.identity import world as W
from tests.integration.manufacturing.test_batches import act, new_batch, run_step, signed

from vein2vein.core.errors import InputError, NotFound, PermissionDenied, RuleViolation
from vein2vein.manufacturing import batch_views, batches, deviations, execution, mbrs, pd_runs
from vein2vein.manufacturing.pd_files import PdFileError
from vein2vein.manufacturing.tables import Batch, BatchEvent, Deviation
from vein2vein.store import audit, migrate
from vein2vein.store.database import Database

HEADER = ["run_label", "step", "item", "value", "unit", "entered_at", "entered_by", "note"]
ROWS = [
    ["PD-17", "RECEIPT", "transit_temperature", "12", "°C", "2026-03-02T08:00:00Z", "JD", ""],
    ["PD-17", "RECEIPT", "viability", "95", "%", "2026-03-02T08:05:00Z", "JD", ""],
    ["PD-17", "EXPAND", "viable_cells_d5", "8", "10^8 cells", "2026-03-07T09:00:00Z", "JD", ""],
    ["PD-17", "EXPAND", "culture_volume_d5", "300", "mL", "2026-03-07T09:01:00Z", "JD", ""],
    ["PD-17", "EXPAND", "target_density", "1", "10^6 cells/mL", "2026-03-07T09:02:00Z", "JD", ""],
    ["PD-18", "RECEIPT", "transit_temperature", "9", "°C", "2026-03-09T08:00:00Z", "M. Lee", ""],
    # earlier in time than the row above: taken first (runs are ordered by entered_at)
    ["PD-18", "RECEIPT", "viability", "96", "%", "2026-03-09T07:55:00Z", "M. Lee", "fresh"],
]


def csv_bytes(rows: list[list[str]]) -> bytes:
    return ("\n".join(",".join(r) for r in [HEADER, *rows]) + "\n").encode("utf-8")


def xlsx_bytes(rows: list[list[object]], title: str = "Runs") -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = title
    for row in [HEADER, *rows]:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def import_file(w: W.World, name: str, data: bytes, version: int = 1, who: str = "operator"):  # type: ignore[no-untyped-def]
    with w.db.uow(w.actor(who)) as uow:
        result = pd_runs.import_pd_runs(
            uow, w.scopes[who], filename=name, data=data,
            program="HLX-1", site=BW.SITE, mbr_version=version,
        )  # fmt: skip
        uow.commit()
        return result


def counts(db: Database) -> tuple[int, int, int]:
    with db.read() as session:
        return (
            session.scalar(select(func.count()).select_from(Batch)),
            session.scalar(select(func.count()).select_from(BatchEvent)),
            session.scalar(select(func.count()).select_from(Deviation)),
        )


def test_a_csv_file_becomes_non_gmp_runs_judged_without_deviations(db: Database) -> None:
    w = BW.build(db)
    result = import_file(w, "pd_march.csv", csv_bytes(ROWS))
    assert (result.mbr_version, result.mbr_status, result.sheet) == (1, "EFFECTIVE", None)
    pd17, pd18 = result.runs
    # PD-17: 12 °C is outside the PAR (1-10 °C) -> judged "deviation", but none is opened
    assert (pd17.run_label, pd17.entries, pd17.flagged, pd17.outside_par) == ("PD-17", 5, 0, 1)
    # PD-18: 9 °C is outside the NOR (2-8 °C) -> flagged
    assert (pd18.entries, pd18.flagged, pd18.outside_par) == (2, 1, 0)
    with db.read() as session:
        run = session.get_one(Batch, pd17.batch_id)
        assert (run.gmp, run.run_label, run.order_id, run.coi, run.din, run.status) == (
            False, "PD-17", None, None, None, "COMPLETE",
        )  # fmt: skip
        assert run.organisation_id == w.ids["a"]  # the program's sponsor
        assert session.scalar(select(func.count()).select_from(Deviation)) == 0
        rec = batches.record_of(run)
        # feed volume = 8e8 cells / 1e6 cells/mL - 300 mL = 500 mL, calculated by the system
        feed = rec.current("EXPAND", "feed_volume")
        assert feed.calculated and feed.value == pytest.approx(500.0)
        detail = batch_views.batch_detail(session, w.scopes["qa"], pd17.batch_id)
        assert (detail["gmp"], detail["order"], detail["run_label"]) == (False, None, "PD-17")
        assert "deviation" in [i["kind"] for i in detail["review"]]
        other = batches.record_of(session.get_one(Batch, pd18.batch_id))
        assert [e.entry for e in other.of(execution.ValueEntered)] == [
            "viability", "transit_temperature",
        ]  # fmt: skip
        entries = session.scalars(
            select(audit.AuditEntry).where(audit.AuditEntry.action == "mfg.batch_pd_import")
        ).all()
        assert [e.entity_id for e in entries] == [str(pd17.batch_id), str(pd18.batch_id)]
        after = json.loads(entries[0].after)
        assert (after["gmp"], after["file"]) == (False, "pd_march.csv")
        assert after["rows"] == [2, 3, 4, 5, 6]
        assert after["file_sha256"] == hashlib.sha256(csv_bytes(ROWS)).hexdigest()
    # listed with every batch, flagged; a GMP batch keeps its order
    gmp_id = new_batch(w, BW.order_with_din(w))
    with db.read() as session:
        listed = {r["id"]: r for r in batch_views.list_batches(session, w.scopes["qa"])}
        sponsor = batch_views.list_batches(session, w.scopes["a.clinical"])
    assert (listed[pd17.batch_id]["gmp"], listed[pd17.batch_id]["order"]) == (False, None)
    assert (listed[pd17.batch_id]["product"], listed[pd17.batch_id]["run_label"]) == (
        "HLX-1", "PD-17",
    )  # fmt: skip
    assert listed[gmp_id]["gmp"] is True and listed[gmp_id]["order"]
    assert {r["id"] for r in sponsor} == {pd17.batch_id, pd18.batch_id, gmp_id}
    with db.read() as session, pytest.raises(NotFound):
        batch_views.batch_detail(session, w.scopes["b.clinical"], pd17.batch_id)


def test_a_bad_cell_anywhere_writes_nothing(db: Database) -> None:
    w = BW.build(db)
    before = counts(db)
    bad = [*ROWS[:5], ["PD-18", "RECEIPT", "viability", "ninety", "%", "2026-03-09T08:00Z", "M"]]
    with pytest.raises(PdFileError, match=r"^file runs\.xlsx, sheet Runs, row 7, column D \(value"):
        import_file(w, "runs.xlsx", xlsx_bytes(bad))
    # a cell that reads well but the MBR refuses: named by row and column too, after PD-17 was
    # already made in the unit of work -> rolled back with it
    refused = [*ROWS[:5], ["PD-18", "RECEIPT", "colour", "1", "%", "2026-03-09T08:00Z", "M", ""]]
    with pytest.raises(PdFileError) as caught:
        import_file(w, "runs.csv", csv_bytes(refused))
    assert str(caught.value).startswith("file runs.csv, row 7, column C (item): step RECEIPT")
    second = [*ROWS[:2], ["PD-17", "RECEIPT", "viability", "90", "%", "2026-03-02T09:00Z", "JD"]]
    with pytest.raises(PdFileError, match=r"row 4, column H \(note\): step RECEIPT: viability has"):
        import_file(w, "runs.csv", csv_bytes(second))
    assert counts(db) == before
    import_file(w, "runs.csv", csv_bytes(ROWS[:1]))
    with pytest.raises(PdFileError, match=r"row 2, column A \(run_label\): run PD-17 exists"):
        import_file(w, "again.csv", csv_bytes(ROWS[:1]))


def test_which_mbr_versions_and_who(db: Database) -> None:
    w = BW.build(db)
    # version 2 as a DRAFT (its content still changes): refused; in review (authored): allowed
    with db.uow(w.actor("operator")) as uow:
        draft = mbrs.new_version(uow, w.scopes["operator"], w.ids["mbr"], "PD of a new feed")
        uow.commit()
        draft_id = draft.id
    with pytest.raises(InputError, match="version 2 is a DRAFT"):
        import_file(w, "r.csv", csv_bytes(ROWS[:1]), version=2)
    with pytest.raises(InputError, match="no MBR version 5 at this site"):
        import_file(w, "r.csv", csv_bytes(ROWS[:1]), version=5)
    signed(w, "operator", mbrs.sign_mbr, draft_id, "authored")
    result = import_file(w, "r.csv", csv_bytes(ROWS[:1]), version=2)
    assert (result.mbr_version, result.mbr_status) == (2, "IN_REVIEW")
    with pytest.raises(PermissionDenied):
        import_file(w, "r.csv", csv_bytes(ROWS[5:6]), who="a.clinical")
    with pytest.raises(PermissionDenied):
        import_file(w, "r.csv", csv_bytes(ROWS[5:6]), who="admin")


def test_pd_runs_are_never_executed_submitted_or_approved(db: Database) -> None:
    w = BW.build(db)
    run_id = import_file(w, "r.csv", csv_bytes(ROWS[:5])).runs[0].batch_id
    with pytest.raises(RuleViolation, match="process-development run"):
        act(w, "operator", batches.start_step, run_id, "SELECT")
    with pytest.raises(RuleViolation, match="process-development run"):
        act(w, "operator", batches.submit, run_id)
    with pytest.raises(RuleViolation, match="it can never be approved"):
        signed(w, "approver", batches.approve, run_id)
    # the database refuses it too, and a GMP batch without an order
    for sql in (
        f"UPDATE mfg_batch SET status = 'APPROVED' WHERE id = {run_id}",
        f"UPDATE mfg_batch SET status = 'IN_REVIEW' WHERE id = {run_id}",
        f"UPDATE mfg_batch SET run_label = NULL WHERE id = {run_id}",
        f"UPDATE mfg_batch SET gmp = TRUE WHERE id = {run_id}",
    ):
        with pytest.raises(IntegrityError), db.uow(w.actor("qa")) as uow:
            uow.session.execute(text(sql))
            uow.session.flush()
    with db.read() as session:
        assert batch_views.batch_release_blockers(session, w.scopes["qa"], run_id) == [
            f"batch {run_id} is a process-development run (non-GMP): it can never be released "
            "or approved for infusion",
            f"the batch record of batch {run_id} is not QA-approved (status COMPLETE)",
        ]


def test_pd_runs_stay_out_of_the_trend_baseline_unless_chosen(db: Database) -> None:
    w = BW.build(db)
    run_id = import_file(w, "r.csv", csv_bytes(ROWS[:5])).runs[0].batch_id
    gmp_id = new_batch(w, BW.order_with_din(w))
    with db.read() as session:
        batch = session.get_one(Batch, gmp_id)
        assert batch_views.earlier_records(session, batch) == []
        chosen = batch_views.earlier_records(session, batch, include_pd=True)
        assert [r.gmp for r in chosen] == [False]
    assert run_id


def approved_batch(w: W.World) -> tuple[int, int]:
    """A whole GMP batch: RECEIPT at 12 °C (a deviation), classified and closed by QA, every
    step signed off, submitted and approved. -> (batch id, deviation id)"""
    batch_id = new_batch(w, BW.order_with_din(w))
    run_step(w, batch_id, "RECEIPT", {"transit_temperature": (12, "°C")})
    rec = BW_record(w, batch_id)
    for op in rec.mbr.operations[1:]:
        run_step(w, batch_id, op.code)
    act(w, "operator", batches.submit, batch_id)
    with w.db.read() as session:
        (dev,) = batches.batch_deviations(session, batch_id)
    act(
        w, "qa", deviations.classify, dev.id, classification="minor",
        root_cause="courier left the box in the sun for 20 minutes", capa="",
    )  # fmt: skip
    signed(w, "qa", deviations.close, dev.id)
    signed(w, "approver", batches.approve, batch_id)
    return batch_id, dev.id


def BW_record(w: W.World, batch_id: int) -> execution.BatchRecord:
    with w.db.read() as session:
        return batches.record_of(session.get_one(Batch, batch_id))


def test_release_blockers_of_gmp_batches(db: Database) -> None:
    w = BW.build(db)
    approved, _ = approved_batch(w)
    in_progress = new_batch(w, BW.order_with_din(w, "HLX-002"))
    act(w, "operator", batches.start_step, in_progress, "RECEIPT")
    act(w, "operator", batches.enter_value, in_progress, "RECEIPT", "transit_temperature", 11, "°C")
    with db.read() as session:
        (dev,) = batches.batch_deviations(session, in_progress)
        assert batch_views.batch_release_blockers(session, w.scopes["qa"], approved) == []
        assert batch_views.batch_release_blockers(session, w.scopes["a.clinical"], approved) == []
        assert batch_views.batch_release_blockers(session, w.scopes["qa"], in_progress) == [
            f"the batch record of batch {in_progress} is not QA-approved (status IN_PROGRESS)",
            f"deviation {dev.number} of batch {in_progress} is not closed",
        ]
        with pytest.raises(NotFound):
            batch_views.batch_release_blockers(session, w.scopes["b.clinical"], approved)
    signed(w, "operator", batches.record_failure, in_progress, "RECEIPT", reason="bag leaked")
    with db.read() as session:
        assert batch_views.batch_release_blockers(session, w.scopes["qa"], in_progress)[:2] == [
            f"batch {in_progress} failed at RECEIPT: bag leaked",
            f"the batch record of batch {in_progress} is not QA-approved (status FAILED)",
        ]


def test_migration_0014_keeps_batches_events_and_triggers(db: Database) -> None:
    w = BW.build(db)
    batch_id = new_batch(w, BW.order_with_din(w))
    run_step(w, batch_id, "RECEIPT")
    before = counts(db)
    _alembic(db, "0013")
    assert counts(db) == before
    _alembic_up(db)
    assert counts(db) == before
    with db.read() as session:
        assert session.get_one(Batch, batch_id).gmp is True
    with pytest.raises((IntegrityError, DBAPIError)), db.uow(w.actor("qa")) as uow:
        uow.session.execute(text("UPDATE mfg_batch_event SET value = 1"))
        uow.session.flush()
    with pytest.raises((IntegrityError, DBAPIError)), db.uow(w.actor("qa")) as uow:
        uow.session.execute(text("DELETE FROM mfg_batch"))
        uow.session.flush()
    # a PD run makes the downgrade refuse (it has no order to keep in 0013)
    import_file(w, "r.csv", csv_bytes(ROWS[:1]))
    with pytest.raises(RuntimeError, match="process-development runs have no order"):
        _alembic(db, "0013")


def _alembic(db: Database, revision: str) -> None:
    from alembic import command

    command.downgrade(migrate.alembic_config(db.engine), revision)


def _alembic_up(db: Database) -> None:
    migrate.upgrade(db.engine)
