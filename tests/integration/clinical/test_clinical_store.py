"""Clinical studies in the store, on SQLite and PostgreSQL: studies, immutable dataset versions,
uploads validated by the engine (bad input stores and audits nothing), readouts and reports
anchored to the dataset hash and the audit head, tenant scope, concurrency, the demo study."""

from __future__ import annotations

import contextlib
import hashlib
import io
import threading
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from tests.integration.clinical.world import World, build, corrupt, demo

from vein2vein.clinical import datasets, readouts, studies
from vein2vein.clinical.demo import DEMO_STUDY_CODE
from vein2vein.clinical.demo_data import HIGH, LOW, MIDDLE, write_demo_sdtm
from vein2vein.clinical.schemas import ReadoutParams
from vein2vein.clinical.tables import DatasetFile, DatasetVersion, Study
from vein2vein.clinical.upload import UploadedFile, parse_upload
from vein2vein.core.errors import Conflict, InputError, NotFound, PermissionDenied
from vein2vein.demo.generator import SPONSOR_EPCAM, load_demo
from vein2vein.store import audit
from vein2vein.store.database import Database


@pytest.fixture
def world(db: Database) -> World:
    return build(db)


def _study(w: World, who: str = "a.clinical", code: str = "IIT-1", **kw) -> int:
    program = kw.pop("program_id", w.ids["program_a"])
    with w.uow(who) as uow:
        study = studies.create_study(
            uow, w.scopes[who], program_id=program, code=code, title="EpCAM IIT", **kw
        )
        uow.commit()
        return study.id


def _upload(w: World, study_id: int, files=None, who: str = "a.clinical", **kw) -> DatasetVersion:
    with w.uow(who) as uow:
        version = datasets.upload_dataset(uow, w.scopes[who], study_id, files or demo(), **kw)
        uow.commit()
        return version


def _head(db: Database) -> audit.Head:
    with db.read() as session:
        return audit.head(session)


def _count(db: Database, model) -> int:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)))


def test_sponsor_clinical_creates_a_study_audited_in_its_organisation(world: World) -> None:
    study_id = _study(world, code="iit-1", options=ReadoutParams(cutoff="2025-03-01"))
    with world.db.read() as session:
        study = session.get_one(Study, study_id)
        assert (study.code, study.organisation_id) == ("IIT-1", world.ids["org_a"])
        assert study.options == {"cutoff": "2025-03-01"}  # only what differs from the defaults
        entry = audit.query(session, entity_type="clinical_study", entity_id=str(study_id))[0]
    assert entry.action == "clinical.study.create"
    assert entry.organisation_id == world.ids["org_a"] and entry.actor == "a.clinical"


def test_cdmo_admin_may_create_other_roles_may_not(world: World) -> None:
    _study(world, "admin", code="BY-ADMIN")
    for who in ("a.viewer", "qa"):
        with pytest.raises(PermissionDenied):
            _study(world, who, code="REFUSED")
    assert _count(world.db, Study) == 1


def test_another_sponsors_program_is_not_found_before_permission(world: World) -> None:
    for who in ("a.clinical", "a.viewer"):  # the viewer would be refused: not-found comes first
        with pytest.raises(NotFound):
            _study(world, who, program_id=world.ids["program_b"])


def test_study_codes_are_unique_per_sponsor(world: World) -> None:
    _study(world, code="IIT-1")
    with pytest.raises(Conflict):
        _study(world, code="iit-1")
    _study(world, "b.clinical", code="IIT-1", program_id=world.ids["program_b"])  # other sponsor


def test_uploads_are_new_immutable_versions_with_hashes(world: World) -> None:
    study_id = _study(world)
    files = demo()
    v1 = _upload(world, study_id, files, comment="first cut")
    changed = corrupt(files, "subjects.csv", 2, "last_alive_date", "2023-05-01")
    v2 = _upload(world, study_id, changed)
    assert (v1.version, v2.version) == (1, 2)
    assert v1.sha256 != v2.sha256
    with world.db.read() as session:
        rows = session.scalars(
            select(DatasetFile).where(DatasetFile.dataset_version_id == v1.id)
        ).all()
        stored = {r.name: (r.sha256, r.content) for r in rows}
        versions = datasets.list_versions(session, world.scopes["a.viewer"], study_id)
        uploads = audit.query(session, entity_type="clinical_dataset_version")
    for f in files:  # the raw bytes exactly as received, with their SHA-256
        assert stored[f.name] == (hashlib.sha256(f.content).hexdigest(), f.content)
    assert [v.version for v in versions] == [2, 1]
    assert versions[1].counts() == {
        "subjects": 10,
        "lesions": 27,
        "assessments": 173,
        "new_lesions": 3,
        "investigator_responses": 0,
    }
    assert [e.action for e in uploads] == ["clinical.dataset.upload"] * 2
    assert uploads[0].organisation_id == world.ids["org_a"]
    assert uploads[0].to_dict()["after"]["sha256"] == v1.sha256


def test_the_database_refuses_to_change_or_delete_a_stored_version(world: World) -> None:
    study_id = _study(world)
    _upload(world, study_id)
    for sql in (
        "UPDATE clinical_dataset_file SET content = :x",
        "DELETE FROM clinical_dataset_file",
        "UPDATE clinical_dataset_version SET sha256 = :x",
        "DELETE FROM clinical_dataset_version",
    ):
        with world.db.engine.connect() as conn, pytest.raises(Exception, match="immutable"):
            conn.execute(text(sql), {"x": b"0" if "content" in sql else "0"})
    assert _count(world.db, DatasetFile) == 4


@pytest.mark.parametrize(
    ("file", "row", "column", "value", "field", "message"),
    [
        ("assessments.csv", 11, "date", "2023-02-30", "date", "unparseable date"),
        ("assessments.csv", 5, "subject_id", "NOBODY", "subject_id", "NOBODY"),
        ("subjects.csv", 3, "infusion_date", "03/08/2022", "infusion_date", "unparseable"),
    ],
)
def test_bad_upload_names_file_row_field_and_stores_and_audits_nothing(
    world: World, file: str, row: int, column: str, value: str, field: str, message: str
) -> None:
    study_id = _study(world)
    head = _head(world.db)
    with pytest.raises(InputError) as err:
        _upload(world, study_id, corrupt(demo(), file, row, column, value))
    assert (err.value.file, err.value.row, err.value.field) == (file, row, field)
    assert message in err.value.message
    assert _count(world.db, DatasetVersion) == 0 and _count(world.db, DatasetFile) == 0
    assert _head(world.db) == head


def test_missing_file_and_unknown_format_are_refused(world: World) -> None:
    study_id = _study(world)
    no_lesions = [f for f in demo() if f.name != "lesions.csv"]
    with pytest.raises(InputError, match=r"missing lesions\.csv") as err:
        _upload(world, study_id, no_lesions)
    assert err.value.file == "lesions.csv"
    with pytest.raises(InputError, match="neither a CSV-folder dataset"):
        _upload(world, study_id, [UploadedFile("notes.txt", b"hello")])
    assert _count(world.db, DatasetVersion) == 0


def test_viewer_may_read_but_not_upload_and_other_sponsor_sees_nothing(world: World) -> None:
    study_id = _study(world)
    with pytest.raises(PermissionDenied):
        _upload(world, study_id, who="a.viewer")
    version = _upload(world, study_id)
    with pytest.raises(NotFound):
        _upload(world, study_id, who="b.clinical")
    with world.db.read() as session:
        assert studies.list_studies(session, world.scopes["b.clinical"]) == []
        with pytest.raises(NotFound):
            datasets.get_version(session, world.scopes["b.clinical"], version.id)
        with pytest.raises(NotFound):
            readouts.compute_readout(
                session, world.scopes["b.clinical"], version.id, ReadoutParams()
            )
        _, result = readouts.compute_readout(
            session, world.scopes["a.viewer"], version.id, ReadoutParams()
        )
    assert result.provenance.input_hash == version.sha256  # the readout cites the stored version


def test_sdtm_zip_upload_gives_the_same_readout_as_the_csv_folder(
    world: World, tmp_path: Path
) -> None:
    study_id = _study(world)
    folder = write_demo_sdtm(tmp_path / "sdtm", "xpt")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in sorted(folder.iterdir()):
            zf.write(p, f"export/SDTM/{p.name.upper()}")
        zf.writestr("export/define.xml", "<ODM/>")
    sdtm = _upload(world, study_id, [UploadedFile("sdtm.zip", buf.getvalue())])
    csv = _upload(world, study_id)
    assert (sdtm.format, sdtm.evaluator, sdtm.ignored_files) == (
        "sdtm",
        "INVESTIGATOR",
        ["define.xml"],
    )
    assert sdtm.n_investigator_responses > 0
    params = ReadoutParams(cutoff="2025-03-01")
    with world.db.read() as session:
        _, a = readouts.compute_readout(session, world.scopes["a.viewer"], sdtm.id, params)
        _, b = readouts.compute_readout(session, world.scopes["a.viewer"], csv.id, params)
    assert [g.to_dict()["orr"] for g in a.groups] == [g.to_dict()["orr"] for g in b.groups]
    assert len(a.disagreements) >= 1  # the demo's RS record that differs from the derived one


def test_two_concurrent_uploads_get_consecutive_versions(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    study_id = _study(world)
    parsed = parse_upload(demo())
    start, race = threading.Barrier(2), threading.Barrier(2)
    real_utcnow = datasets.utcnow

    def utcnow_after_both_read_the_last_version():  # type: ignore[no-untyped-def]
        # add_version reads the last version number, then builds the row (calling utcnow):
        # without the study lock both writers would meet here having read the same number
        with contextlib.suppress(threading.BrokenBarrierError):  # the other writer is blocked
            race.wait(timeout=2)
        return real_utcnow()

    monkeypatch.setattr(datasets, "utcnow", utcnow_after_both_read_the_last_version)
    errors: list[BaseException] = []

    def upload() -> None:
        try:
            start.wait(timeout=10)
            with world.uow("a.clinical") as uow:
                study = uow.session.get_one(Study, study_id)
                datasets.add_version(uow, study, parsed)
                uow.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=upload) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    with world.db.read() as session:
        versions = session.scalars(select(DatasetVersion.version).order_by(DatasetVersion.version))
        assert list(versions) == [1, 2]


def test_report_prints_dataset_hash_and_audit_head_and_its_export_is_audited(
    world: World,
) -> None:
    study_id = _study(world)
    version = _upload(world, study_id)
    head = _head(world.db)
    with world.db.read() as session:
        report = readouts.build_report(
            session, world.scopes["a.viewer"], version.id, ReadoutParams(), "html"
        )
    html = report.content.decode()
    assert version.sha256 in html and head.hash in html and f"#{head.seq} " in html
    assert report.head == head
    with world.uow("a.viewer") as uow:
        readouts.record_report(uow, report)
        uow.commit()
    with world.db.read() as session:
        entry = audit.query(session, entity_type="clinical_dataset_version", newest_first=True)[0]
    assert entry.action == "clinical.report.export" and entry.seq == head.seq + 1
    after = entry.to_dict()["after"]
    assert after["report_sha256"] == hashlib.sha256(report.content).hexdigest()
    assert after["anchored_head_hash"] == head.hash


def test_demo_study_readout_reproduces_the_press_release_figures(demo_db: Database) -> None:
    db = demo_db  # the demo as load_demo loads it, once per test run and engine (conftest)
    assert not load_demo(db)  # idempotent: nothing added the second time
    with db.read() as session:
        study = session.scalars(select(Study).where(Study.code == DEMO_STUDY_CODE)).one()
        assert study.organisation.name == SPONSOR_EPCAM
        assert [v.version for v in study.versions] == [1]
        version = study.versions[0]
        uploads = audit.query(session, entity_type="clinical_dataset_version")
        admin = _cdmo_admin_scope(session)
        params = studies.study_defaults(study)  # the stored data cut-off, 2025-03-01
        _, result = readouts.compute_readout(session, admin, version.id, params)
    assert [e.action for e in uploads] == ["clinical.dataset.upload"]
    everyone = result.group("ALL")
    assert (everyone.n, everyone.dcr.k, everyone.dcr.n) == (10, 9, 10)  # DCR 90 %
    assert (result.group(LOW).orr.k, result.group(LOW).orr.n) == (1, 3)  # 1 PR of 3
    assert result.group(LOW).bor_counts["PR"] == 1
    assert (result.group(MIDDLE).orr.k, result.group(MIDDLE).orr.n) == (2, 5)  # 2 PR of 5
    assert result.group(MIDDLE).os.median > 55 * 7  # median OS above 55 weeks
    assert (result.group(HIGH).orr.k, result.group(HIGH).orr.n) == (0, 2)


def _cdmo_admin_scope(session):  # type: ignore[no-untyped-def]
    from vein2vein.auth import service as auth

    return auth.scope_of(auth.user_by_username(session, "admin"))


def test_study_defaults_change_with_a_reason_and_are_audited(world: World) -> None:
    study_id = _study(world)
    with world.uow("a.clinical") as uow, pytest.raises(InputError, match="reason"):
        studies.update_study(uow, world.scopes["a.clinical"], study_id, {"title": "x"}, " ")
    with world.uow("a.clinical") as uow:
        studies.update_study(
            uow,
            world.scopes["a.clinical"],
            study_id,
            {"options": {"cutoff": "2025-03-01", "accept_sd": True}},
            "SAP amendment 2",
        )
        uow.commit()
    with world.db.read() as session:
        study = session.get_one(Study, study_id)
        assert studies.study_defaults(study) == ReadoutParams(cutoff="2025-03-01", accept_sd=True)
        entry = audit.query(session, entity_type="clinical_study", newest_first=True)[0].to_dict()
    assert entry["action"] == "clinical.study.update" and entry["reason"] == "SAP amendment 2"
    assert entry["before"]["options"] == {} and entry["after"]["options"]["accept_sd"] is True
    with world.uow("a.viewer") as uow, pytest.raises(PermissionDenied):
        studies.update_study(uow, world.scopes["a.viewer"], study_id, {"title": "x"}, "why")


def test_an_upload_with_thousands_of_stray_files_keeps_a_short_audit_entry(
    world: World,
) -> None:
    """Issue 10 P3: the names of ignored files are capped (the count is kept) and stored safe."""
    study_id = _study(world)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in demo():
            zf.writestr(f"study/{f.name}", f.content)
        for i in range(3000):
            zf.writestr(f"study/scans/{i:05d}-{'x' * 60}.dcm", b"")
        zf.writestr("study/+\x1b[31mred\x1b[0m.txt", b"")
    version = _upload(world, study_id, [UploadedFile("study.zip", buf.getvalue())])
    with world.db.read() as session:
        (entry,) = audit.query(
            session, entity_type="clinical_dataset_version", entity_id=str(version.id)
        )
    after = entry.to_dict()["after"]
    assert after["ignored_count"] == 3001
    assert after["ignored_files"] == version.ignored_files
    assert len(version.ignored_files) == 50
    assert version.ignored_files[0] == "+\\x1b[31mred\\x1b[0m.txt"  # escaped, not raw
    assert version.ignored_files[1].startswith("00000-")  # then the first names, sorted
    assert len(str(after)) < 20_000
