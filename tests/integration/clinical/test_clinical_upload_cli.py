"""`v2v clinical upload`: a dataset version stored from the command line is the version the web
and API path (``datasets.upload_dataset``) stores from the same files: the same dataset hash,
file hashes, sizes, bytes, counts and warnings, and the same error (file, row, field) for a bad
file, with nothing stored or audited. Also: log-in with the password on standard input, the
study by id or code, another sponsor's study not found, a viewer refused.

The references are independent of the code under test: the SHA-256 of each input file computed
here with ``hashlib``, and the dataset hash by the formula of docs/clinical.md (SHA-256 over the
lines ``name:sha256`` of the files sorted by name)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import undefer
from tests import factories
from tests.integration.clinical.world import World, build, corrupt, demo
from typer.testing import CliRunner

from vein2vein.clinical import datasets, studies
from vein2vein.clinical.tables import DatasetFile, DatasetVersion
from vein2vein.clinical.upload import UploadedFile, parse_upload
from vein2vein.core.errors import InputError
from vein2vein.features import create_cli
from vein2vein.store import audit
from vein2vein.store.database import Database

cli = create_cli()
runner = CliRunner()


@pytest.fixture
def world(cli_db: Database) -> World:
    return build(cli_db)


def _study(w: World, code: str = "IIT-1", who: str = "a.clinical", program: str = "program_a"):  # type: ignore[no-untyped-def]
    with w.uow(who) as uow:
        study = studies.create_study(
            uow, w.scopes[who], program_id=w.ids[program], code=code, title="EpCAM IIT"
        )
        uow.commit()
        return study.id


def _write(folder: Path, files: list[UploadedFile]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        (folder / f.name).write_bytes(f.content)
    return folder


def _upload(env: dict[str, str], *args: str, user: str = "a.clinical", password: str = ""):  # type: ignore[no-untyped-def]
    return runner.invoke(
        cli,
        ["clinical", "upload", *args, "--user", user],
        env=env,
        input=(password or factories.PASSWORD) + "\n",
    )


def _stored(db: Database, version_id: int) -> dict[str, bytes]:
    with db.read() as session:
        rows = session.scalars(
            select(DatasetFile)
            .where(DatasetFile.dataset_version_id == version_id)
            .options(undefer(DatasetFile.content))
        )
        return {r.name: r.content for r in rows}


def _counts(db: Database) -> tuple[int, int, int]:
    with db.read() as session:
        return (
            int(session.scalar(select(func.count()).select_from(DatasetVersion))),
            int(session.scalar(select(func.count()).select_from(DatasetFile))),
            len(audit.query(session, entity_type="clinical_dataset_version")),
        )  # the log-in itself is audited: only upload entries are counted


def test_cli_upload_stores_what_the_service_stores_with_independent_hashes(
    world: World, cli_env: dict[str, str], tmp_path: Path
) -> None:
    files = demo()
    folder = _write(tmp_path / "study", files)
    (folder / "README.txt").write_text("notes")  # not part of the format: listed, not stored
    study_id = _study(world)
    res = _upload(cli_env, "iit-1", str(folder), "--comment", "first cut", "--json")
    assert res.exit_code == 0, res.output
    by_cli = json.loads(res.output)

    with world.uow("a.clinical") as uow:  # the path of the web form and the API
        version = datasets.upload_dataset(
            uow, world.scopes["a.clinical"], study_id, [*files, UploadedFile("README.txt", b"x")]
        )
        uow.commit()
        by_service = version.public()

    expected = {f.name: hashlib.sha256(f.content).hexdigest() for f in files}
    lines = "".join(f"{name}:{expected[name]}\n" for name in sorted(expected))
    dataset_hash = hashlib.sha256(lines.encode()).hexdigest()
    assert by_cli["sha256"] == by_service["sha256"] == dataset_hash
    assert (
        by_cli["files"]
        == by_service["files"]
        == [
            {"name": f.name, "sha256": expected[f.name], "size": len(f.content)}
            for f in sorted(files, key=lambda f: f.name)
        ]
    )
    for key in ("counts", "warnings", "ignored_files", "format", "evaluator"):
        assert by_cli[key] == by_service[key], key
    assert by_cli["counts"]["subjects"] == 10 and by_cli["ignored_files"] == ["README.txt"]
    assert (by_cli["version"], by_service["version"]) == (1, 2)
    assert by_cli["comment"] == "first cut" and by_cli["uploaded_by"] == "a.clinical"
    assert _stored(world.db, by_cli["id"]) == {f.name: f.content for f in files}
    with world.db.read() as session:
        entry = audit.query(session, entity_type="clinical_dataset_version")[0].to_dict()
    assert entry["action"] == "clinical.dataset.upload" and entry["actor"] == "a.clinical"
    assert entry["after"]["sha256"] == dataset_hash
    assert entry["after"]["ignored_count"] == 1


def test_cli_upload_takes_files_a_zip_and_the_study_id(
    world: World, cli_env: dict[str, str], tmp_path: Path
) -> None:
    files = demo()
    folder = _write(tmp_path / "study", files)
    study_id = _study(world)
    named = _upload(cli_env, str(study_id), *(str(folder / f.name) for f in files))
    assert named.exit_code == 0, named.output
    assert "stored version 1 of study" in named.output and "10 subjects" in named.output
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in files:
            zf.writestr(f"export/{f.name}", f.content)
    (tmp_path / "study.zip").write_bytes(buf.getvalue())
    zipped = _upload(cli_env, "IIT-1", str(tmp_path / "study.zip"), "--json")
    assert zipped.exit_code == 0, zipped.output
    assert json.loads(zipped.output)["sha256"] == parse_upload(files).sha256


@pytest.mark.parametrize(
    ("file", "row", "column", "value"),
    [
        ("assessments.csv", 11, "date", "2023-02-30"),
        ("assessments.csv", 5, "subject_id", "NOBODY"),
        ("subjects.csv", 3, "infusion_date", "03/08/2022"),
        ("lesions.csv", 4, "role", "MAYBE"),
    ],
)
def test_cli_bad_file_gives_the_services_error_and_stores_nothing(
    world: World,
    cli_env: dict[str, str],
    tmp_path: Path,
    file: str,
    row: int,
    column: str,
    value: str,
) -> None:
    bad = corrupt(demo(), file, row, column, value)
    with pytest.raises(InputError) as reference:  # the existing path on the same input
        parse_upload(bad)
    assert (reference.value.file, reference.value.row) == (file, row)
    _study(world)
    before = _counts(world.db)
    res = _upload(cli_env, "IIT-1", str(_write(tmp_path / "bad", bad)))
    assert res.exit_code == 2
    assert f"error: {reference.value.message}" in res.output
    assert f"{file}, row {row}" in res.output
    assert _counts(world.db) == before


def test_cli_upload_refuses_wrong_password_viewer_and_other_sponsor(
    world: World, cli_env: dict[str, str], tmp_path: Path
) -> None:
    folder = _write(tmp_path / "study", demo())
    _study(world)
    b_study = _study(world, who="b.clinical", program="program_b")
    before = _counts(world.db)
    wrong = _upload(cli_env, "IIT-1", str(folder), password="not-the-password")
    assert wrong.exit_code != 0 and "password" in wrong.output.lower()
    viewer = _upload(cli_env, "IIT-1", str(folder), user="a.viewer")
    assert viewer.exit_code == 1 and "error:" in viewer.output
    other = _upload(cli_env, str(b_study), str(folder))  # b's study, by id, from sponsor A
    assert other.exit_code == 1 and "not found" in other.output
    missing = _upload(cli_env, "IIT-1", str(tmp_path / "nowhere"))
    assert missing.exit_code == 2 and "neither a file nor a folder" in missing.output
    assert _counts(world.db) == before


def test_a_cdmo_admin_names_the_sponsor_when_two_studies_share_a_code(
    world: World, cli_env: dict[str, str], tmp_path: Path
) -> None:
    folder = _write(tmp_path / "study", demo())
    _study(world)
    b_study = _study(world, who="b.clinical", program="program_b")
    ambiguous = _upload(cli_env, "IIT-1", str(folder), user="cdmo.admin")
    assert ambiguous.exit_code == 2 and "--sponsor" in ambiguous.output, ambiguous.output
    res = _upload(
        cli_env, "IIT-1", str(folder), "--sponsor", "Corvane", "--json", user="cdmo.admin"
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["study_id"] == b_study


def test_the_upload_command_loads_neither_the_readout_engine_nor_alembic(
    world: World, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """Start-up is part of the upload's time (issue 15): no scipy (the readout engine), no
    Alembic (the schema check reads the stamped revision with one query), no OR-Tools."""
    folder = _write(tmp_path / "study", demo())
    _study(world)
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from vein2vein.features import create_cli\n"
        f"args = ['clinical', 'upload', 'IIT-1', {str(folder)!r}, '--user', 'a.clinical']\n"
        f"r = CliRunner().invoke(create_cli(), args, input={factories.PASSWORD + chr(10)!r})\n"
        "assert r.exit_code == 0, r.output\n"
        "heavy = ('scipy', 'alembic', 'ortools', 'matplotlib', 'fastapi', 'jinja2')\n"
        "print('loaded:' + ','.join(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={**os.environ, **cli_env},
        check=True,
    )
    loaded = done.stdout.strip().splitlines()[-1].removeprefix("loaded:")
    assert loaded == "", f"`v2v clinical upload` imported {loaded}"
    assert _counts(world.db)[0] == 1
