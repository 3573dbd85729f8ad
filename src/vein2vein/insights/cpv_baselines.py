"""Freezing a CPV baseline (docs/cpv.md): the control limits of one product's attribute or
process parameter at one site, computed by the statistics engine from the approved values of
the batches started in a chosen period (in the series' unit, the latest point's), stored with
every batch, result or record entry and value they came from, and signed.

A series is named as ``cpv_domain.source_of`` reads it: a QC test code, or a batch-record value
in comparability's syntax (``record:HARVEST.viability``, ``derived:fold_expansion``), so the
baseline table of migration 0018 holds either kind in ``test_code`` (at most 64 characters: a
longer name is refused with its length).

Who: the CDMO's QA approver (``Perm.CPV_FREEZE``), as a CDMO's QA signs the CPV protocol's
limits that MSAT proposes; the signature's meaning is *approved* (``auth.signatures``: the
password asked again, the printed name, the hash of the content). The baseline is locked from
then on (the database refuses any change but its supersession, migration 0018); freezing a new
one for the same series supersedes it, and the new one names the one it superseded.

Two people freezing the same series at once: each freeze takes the program's row lock before
reading the effective baseline, and each names the baseline it saw as effective (``current``:
its id, or none); the second, finding another one effective by then, is refused (``Conflict``)
rather than silently superseding what the first froze (race test on PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy.orm import Session

from vein2vein.auth.roles import Meaning, Perm
from vein2vein.auth.scope import Scope, get_scoped
from vein2vein.auth.signatures import ContentReader, require_credentials, row_content_reader, sign
from vein2vein.auth.tables import Site
from vein2vein.core.canonical import canonical_json, sha256_hex
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import Conflict, InputError, NotFound, PermissionDenied
from vein2vein.core.settings import Settings
from vein2vein.core.text import clean_text
from vein2vein.insights import cpv_data as data
from vein2vein.insights import cpv_domain as dom
from vein2vein.insights.cpv_tables import CpvBaseline
from vein2vein.programs.tables import Program
from vein2vein.store.locks import lock_row
from vein2vein.store.uow import UnitOfWork

RECORD = "cpv_baseline"
MEANING = Meaning.APPROVED.value
#: the length of ``cpv_baseline.test_code`` (migration 0018)
NAME_LENGTH = 64


def content(b: CpvBaseline) -> dict[str, Any]:
    """What was signed (stored with the row)."""
    return json.loads(b.content)  # type: ignore[no-any-return]


def content_readers() -> dict[str, ContentReader]:
    """Record type → reader of the signed content now (``v2v audit verify``)."""
    return {RECORD: row_content_reader(CpvBaseline, content)}


def get_baseline(session: Session, scope: Scope, baseline_id: int | str) -> CpvBaseline:
    found = get_scoped(session, scope, CpvBaseline, baseline_id)
    scope.require(Perm.QC_READ)
    return found


def _site(session: Session, site_id: int | str) -> Site:
    try:
        key = int(site_id)
    except (TypeError, ValueError):
        key = -1
    site = session.get(Site, key)
    if site is None:
        raise NotFound(f"site {site_id} not found")
    return site


def may_freeze(session: Session, scope: Scope, program_id: int | str) -> Program:
    """The program, if the caller may freeze its baselines: another client's is not found,
    then a sponsor or a role without ``cpv.freeze`` is refused (before any input is read)."""
    program = get_scoped(session, scope, Program, program_id)
    if not scope.is_cdmo:
        raise PermissionDenied("CPV baselines are frozen by the CDMO's quality unit")
    scope.require(Perm.CPV_FREEZE)
    return program


def freeze_baseline(
    uow: UnitOfWork,
    scope: Scope,
    settings: Settings,
    *,
    program_id: int | str,
    site_id: int | str,
    test: str,
    start: dt.date,
    end: dt.date,
    reason: str,
    current: int | None,
    username: str,
    password: str,
) -> CpvBaseline:
    """Freeze the limits of the series from the batches started from ``start`` to ``end``;
    ``current``: the baseline the caller saw as effective (None: none)."""
    s = uow.session
    program = may_freeze(s, scope, program_id)
    site = _site(s, site_id)
    why = clean_text(reason, "reason", 2000, multiline=True)
    if not why:
        raise InputError("Reason: say why these batches are the baseline", field="reason")
    attribute = series_name(test)
    require_credentials(username, password)
    lock_row(s, Program, program.id)
    key = data.SeriesKey(program.id, site.id, attribute)
    old = data.effective_baseline(s, key)
    if (old.id if old else None) != current:
        seen = f"baseline {current}" if current else "no baseline"
        now = (
            f"baseline {old.id}, frozen by {old.frozen_by_name} on {old.frozen_at:%Y-%m-%d %H:%M} "
            "UTC"
            if old
            else "none"
        )
        raise Conflict(
            f"you saw {seen} as effective, but the effective one is now {now}: nothing was "
            "frozen. Reload the chart, review it and freeze again."
        )
    points, _ = data.approved_points(s, scope, key)
    in_unit = dom.in_latest_unit(points)  # the chart's unit, or UnitMismatch
    chosen = dom.baseline_points(in_unit, start, end)
    limits, chart = dom.freeze(chosen)
    unit = in_unit[-1].unit
    body = dom.baseline_content(
        product=program.code, site=site.name, attribute=key.attribute, unit=unit, start=start,
        end=end, points=chosen, limits=limits, chart=chart, supersedes=old.id if old else None,
        reason=why,
    )  # fmt: skip
    now_at = utcnow()
    if old is not None:
        old.status = data.SUPERSEDED
        old.superseded_at = now_at
        s.flush()
        uow.record(
            "cpv.baseline_superseded", RECORD, old.id,
            before={"status": data.EFFECTIVE}, after={"status": data.SUPERSEDED},
            organisation_id=old.organisation_id,
        )  # fmt: skip
    row = CpvBaseline(
        organisation_id=program.organisation_id, program_id=program.id, site_id=site.id,
        test_code=key.attribute, unit=unit, period_start=start, period_end=end, n=len(chosen),
        center=limits.center, sigma=limits.sigma, lcl=limits.lcl, ucl=limits.ucl,
        mr_center=limits.mr_center, mr_ucl=limits.mr_ucl, content=canonical_json(body).decode(),
        content_hash=sha256_hex(body), reason=why, status=data.EFFECTIVE, frozen_at=now_at,
        frozen_by=scope.username, frozen_by_name=scope.full_name,
        supersedes_id=old.id if old else None,
    )  # fmt: skip
    s.add(row)
    s.flush()
    sig = sign(
        uow, settings, signer_id=scope.user_id, username=username, password=password,
        record_type=RECORD, record_id=row.id, organisation_id=row.organisation_id,
        meaning=MEANING, content=body,
        reason=f"freezing the CPV baseline of {program.code} {key.attribute} at {site.name}",
    )  # fmt: skip
    uow.record(
        "cpv.baseline_frozen", RECORD, row.id,
        after={"content_hash": row.content_hash, "signature_id": sig.id, "n": row.n,
               "center": row.center, "lcl": row.lcl, "ucl": row.ucl},
        reason=why, organisation_id=row.organisation_id,
    )  # fmt: skip
    return row


def series_name(text: str) -> str:
    """The series' name as baselines store it (``qc:cd3`` is ``cd3``), within the column."""
    try:
        name = dom.series_name(dom.source_of(text.strip()))
    except InputError as exc:
        raise InputError(f"Attribute: {exc.detail}", field="attribute") from None
    if not name:
        raise InputError("Attribute: choose the series", field="attribute")
    if len(name) > NAME_LENGTH:
        raise InputError(
            f"Attribute: the series '{name[:80]}' has a name of {len(name)} characters; a "
            f"baseline records at most {NAME_LENGTH}: no baseline can be frozen for it",
            field="attribute",
        )
    return name
