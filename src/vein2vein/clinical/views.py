"""Reads of clinical studies for pages, the API and the CLI: ``(session, scope, ids) -> plain
dicts``, always within the caller's scope (another sponsor's study or version is *not found*),
with no change and no audit entry. Changes go through ``studies.py`` and ``datasets.py``; a
report's hand-out, which is audited, through ``readouts.py``."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from vein2vein.auth.scope import Scope
from vein2vein.core.errors import InputError, NotFound
from vein2vein.programs.service import list_programs
from vein2vein.store import audit

from . import report_versions
from .access import can_see_history, can_write, require_read
from .datasets import get_file, get_version, list_versions
from .readouts import compute_readout
from .schemas import ReadoutOverrides, ReadoutParams
from .studies import get_study, study_defaults
from .tables import DatasetVersion, Study

# ------------------------------------------------------------------ studies


def _studies(session: Session, scope: Scope) -> list[Study]:
    """The studies the caller may see, by code, with their sponsor and program (one statement:
    both are joined)."""
    require_read(scope)
    stmt = (
        scope.filter(select(Study), Study)
        .options(joinedload(Study.program), joinedload(Study.organisation))
        .order_by(Study.code, Study.id)
    )
    return list(session.scalars(stmt))


def studies(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """The studies the caller may see (their public fields), by code."""
    return [s.public() for s in _studies(session, scope)]


def _study_heading(study: Study) -> dict[str, Any]:
    return study.public() | {"sponsor": study.organisation.name, "program": study.program.code}


def _version_counts(session: Session, scope: Scope) -> dict[int, int]:
    """How many dataset versions each study the caller may see has (one aggregate)."""
    stmt = scope.filter(
        select(DatasetVersion.study_id, func.count(DatasetVersion.id))
        .join(Study, Study.id == DatasetVersion.study_id)
        .group_by(DatasetVersion.study_id),
        Study,
    )
    return dict(session.execute(stmt).all())


def study_list_page(session: Session, scope: Scope) -> dict[str, Any]:
    """The study list page: studies with sponsor, program and number of versions, and the
    programs a new study may belong to (four statements whatever the number of studies)."""
    found = _studies(session, scope)
    counts = _version_counts(session, scope)
    rows = [_study_heading(s) | {"versions": counts.get(s.id, 0)} for s in found]
    return {
        "studies": rows,
        "programs": [p.public() for p in list_programs(session, scope)],
        "can_write": can_write(scope),
    }


def study_detail(session: Session, scope: Scope, study_id: int | str) -> dict[str, Any]:
    """A study with its sponsor, program and dataset versions, newest first."""
    study = get_study(session, scope, study_id)
    versions = list_versions(session, scope, study.id)
    return _study_heading(study) | {"versions": [v.public() for v in versions]}


# ------------------------------------------------------------------ dataset versions


def version(session: Session, scope: Scope, version_id: int | str) -> dict[str, Any]:
    return get_version(session, scope, version_id).public()


def dataset_file(
    session: Session, scope: Scope, version_id: int | str, name: str
) -> dict[str, Any]:
    """A raw file of a version exactly as uploaded (``name``, ``sha256``, ``content``), its
    bytes checked against the SHA-256 recorded at upload."""
    row = get_file(session, scope, version_id, name)
    return {"name": row.name, "sha256": row.sha256, "content": row.content}


# ------------------------------------------------------------------ readouts


def readout_params(
    session: Session, scope: Scope, version_id: int | str, overrides: ReadoutOverrides
) -> ReadoutParams:
    """The readout options of a version: its study's defaults with the caller's overrides."""
    study = get_version(session, scope, version_id).study
    return overrides.apply(study.options or {})


def readout(
    session: Session, scope: Scope, version_id: int | str, overrides: ReadoutOverrides
) -> dict[str, Any]:
    """The readout JSON of ``v2v clinical readout --json`` for a version, with its study,
    the version and the options used (unset options take the study's defaults)."""
    params = readout_params(session, scope, version_id, overrides)
    found, result = compute_readout(session, scope, version_id, params)
    return {
        "study": found.study.public(),
        "version": found.public(),
        "options": params.model_dump(mode="json"),
        "readout": result.to_dict(),
    }


# ------------------------------------------------------------------ the study page


def history(
    session: Session, scope: Scope, study_id: int, version_ids: set[int]
) -> list[dict[str, Any]]:
    """Audit entries of a study and its versions, newest first (for roles that read the
    audit trail; others get none)."""
    if not can_see_history(scope):
        return []
    ids = scope.organisation_ids
    entries = audit.query(
        session,
        entity_type="clinical_study",
        entity_id=str(study_id),
        organisation_ids=ids,
    )
    wanted = {str(v) for v in version_ids}
    entries += [
        e
        for e in audit.query(session, entity_type="clinical_dataset_version", organisation_ids=ids)
        if e.entity_id in wanted
    ]
    return [e.to_dict() for e in sorted(entries, key=lambda e: -e.seq)]


def _finite(value: Any) -> Any:
    """JSON for the page: NaN and infinities become null (JSON.parse refuses NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _readout_context(
    session: Session, scope: Scope, version_id: int, params: ReadoutParams
) -> dict[str, Any]:
    from . import report_document
    from .figures import colour_map

    _, result = compute_readout(session, scope, version_id, params)
    data = result.plot_data()
    doc = report_document.build(result, "", data=data)
    query = {
        k: ",".join(v) if isinstance(v, list) else v  # benefit: one comma-separated value
        for k, v in params.model_dump(mode="json").items()
        if v is not None
    }
    return {
        # the report's own numbered tables and figure captions (report_document.py)
        "doc_tables": {t.key: t for t in doc.tables},
        "figure_refs": {f.key: f for f in doc.figures},
        "warnings": list(result.warnings),
        "provenance": result.provenance.summary(),
        "criteria": "iRECIST" if params.irecist else "RECIST 1.1",
        "figures": {"data": _finite(data), "colours": colour_map(data)},
        "km": data["km"],
        "report_query": urlencode(query),
    }


def study_page(
    session: Session,
    scope: Scope,
    study_id: int | str,
    version_id: int | None,
    overrides: ReadoutOverrides,
) -> dict[str, Any]:
    """The study page: the study, its versions, the selected version (the newest unless one is
    named) with its readout under the study's defaults and the caller's overrides, and the
    audit history. A readout that cannot be computed (e.g. a cut-off before every infusion)
    is a ``readout_error`` on the page, not a failed page."""
    study = get_study(session, scope, study_id)
    versions = list_versions(session, scope, study.id)
    selected = None
    if version_id is not None:
        selected = get_version(session, scope, version_id)
        if selected.study_id != study.id:
            raise NotFound(f"clinical dataset version {version_id} not found")
    elif versions:
        selected = versions[0]
    params = overrides.apply(study.options or {})
    ctx: dict[str, Any] = {
        "study": _study_heading(study),
        "defaults": study_defaults(study).stored(),
        "study_params": study_defaults(study).model_dump(mode="json"),
        "versions": [v.public() for v in versions],
        "selected": selected.public() if selected else None,
        "params": params.model_dump(mode="json"),
        "can_write": can_write(scope),
        "history": history(session, scope, study.id, {v.id for v in versions}),
    }
    ctx |= report_versions.study_section(session, scope, study)
    if selected is not None:
        try:
            ctx |= _readout_context(session, scope, selected.id, params)
        except (InputError, ValueError) as exc:
            ctx["readout_error"] = str(exc)
    return ctx
