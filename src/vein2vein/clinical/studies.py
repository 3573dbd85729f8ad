"""Use cases of clinical studies: create a study of a program and change its title, description
or default readout options. Each change is one unit of work with its audit entry, within the
caller's tenant scope (a study of another sponsor is *not found*, checked before the
permission; ``access.py`` says who may do what)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from vein2vein.auth.scope import Scope, get_scoped
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import Conflict, InputError
from vein2vein.core.text import clean_text
from vein2vein.programs.tables import Program
from vein2vein.store.uow import UnitOfWork

from .access import require_read, require_write
from .schemas import ReadoutParams
from .tables import Study

EDITABLE = ("title", "description", "options")


def add_study(
    uow: UnitOfWork,
    program: Program,
    *,
    code: str,
    title: str,
    description: str = "",
    options: ReadoutParams | None = None,
) -> Study:
    """Create a study of ``program`` (already resolved within the caller's scope)."""
    code = clean_text(code, "code", 32).upper()
    if not code:
        raise InputError("a study code of 1 to 32 characters is required", field="code")
    title = clean_text(title, "title", 300)
    description = clean_text(description, "description", 10_000, multiline=True)
    if not title:
        raise InputError("a study needs a title", field="title")
    s = uow.session
    exists = s.scalar(
        select(Study.id).where(Study.organisation_id == program.organisation_id, Study.code == code)
    )
    if exists:
        raise Conflict(f"this sponsor already has a study {code}")
    study = Study(
        organisation_id=program.organisation_id,
        program_id=program.id,
        code=code,
        title=title,
        description=description,
        options=(options or ReadoutParams()).stored(),
        created_at=utcnow(),
        created_by=uow.actor.name,
    )
    s.add(study)
    s.flush()
    uow.record(
        "clinical.study.create",
        "clinical_study",
        study.id,
        after=study.public(),
        organisation_id=study.organisation_id,
    )
    return study


def create_study(
    uow: UnitOfWork,
    scope: Scope,
    *,
    program_id: int,
    code: str,
    title: str,
    description: str = "",
    options: ReadoutParams | None = None,
) -> Study:
    program = get_scoped(uow.session, scope, Program, program_id)
    require_write(scope)
    return add_study(uow, program, code=code, title=title, description=description, options=options)


def update_study(
    uow: UnitOfWork, scope: Scope, study_id: int, changes: dict[str, Any], reason: str
) -> Study:
    """Change a study's title, description or default readout options, with a reason."""
    study = get_scoped(uow.session, scope, Study, study_id)
    require_write(scope)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise InputError(f"cannot change {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    if not reason.strip():
        raise InputError("a reason is required to change a study", field="reason")
    before = study.public()
    if "title" in changes:
        changes["title"] = clean_text(str(changes["title"]), "title", 300)
        if not changes["title"]:
            raise InputError("a study needs a title", field="title")
        study.title = str(changes["title"]).strip()
    if "description" in changes:
        study.description = clean_text(
            str(changes["description"]), "description", 10_000, multiline=True
        )
    if "options" in changes:
        study.options = _readout_params(changes["options"]).stored()
    uow.record(
        "clinical.study.update",
        "clinical_study",
        study.id,
        before=before,
        after=study.public(),
        reason=reason.strip(),
        organisation_id=study.organisation_id,
    )
    return study


def _readout_params(options: Any) -> ReadoutParams:
    """Readout options as a study keeps them; a bad one is bad input naming its field."""
    try:
        return ReadoutParams.model_validate(options)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first.get("loc", ())) or "options"
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        raise InputError(f"option {name}: {message}", field=f"options.{name}") from None


def list_studies(session: Session, scope: Scope) -> list[Study]:
    require_read(scope)
    stmt = (
        scope.filter(select(Study), Study)
        .options(selectinload(Study.program), selectinload(Study.organisation))
        .order_by(Study.code)
    )
    return list(session.scalars(stmt))


def get_study(session: Session, scope: Scope, study_id: int | str) -> Study:
    study = get_scoped(session, scope, Study, study_id)
    require_read(scope)
    return study


def study_defaults(study: Study) -> ReadoutParams:
    return ReadoutParams.model_validate(study.options or {})
