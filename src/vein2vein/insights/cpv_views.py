"""Reads of the CPV pages, API and command line (docs/cpv.md): the list of series (quality
attributes and process parameters), one series' dashboard (chart, rules, limits, capability,
drill-down, baselines) and the "all batches met specification" summary of a product and
period. Plain dicts; scoped like services (another client's program or baseline: not
found)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope, get_scoped, scoped_select
from vein2vein.auth.signatures import signatures_for
from vein2vein.auth.tables import Site
from vein2vein.core.errors import InputError, NotFound
from vein2vein.insights import cpv_baselines as baselines
from vein2vein.insights import cpv_data as data
from vein2vein.insights import cpv_domain as dom
from vein2vein.insights.cpv_tables import CpvBaseline
from vein2vein.programs.tables import Program


def _baseline_public(b: CpvBaseline, site: str = "") -> dict[str, Any]:
    signed = baselines.content(b)
    return {
        "id": b.id,
        "program_id": b.program_id,
        "product": b.program.code,
        "site_id": b.site_id,
        "site": site or b.site.name,
        "attribute": b.test_code,
        "kind": dom.kind_of(b.test_code),
        "unit": b.unit,
        "period_start": b.period_start,
        "period_end": b.period_end,
        "n": b.n,
        "center": b.center,
        "sigma": b.sigma,
        "lcl": b.lcl,
        "ucl": b.ucl,
        "mr_center": b.mr_center,
        "mr_ucl": b.mr_ucl,
        "status": b.status,
        "frozen_at": b.frozen_at,
        "frozen_by": b.frozen_by,
        "frozen_by_name": b.frozen_by_name,
        "reason": b.reason,
        "supersedes_id": b.supersedes_id,
        "superseded_at": b.superseded_at,
        "content_hash": b.content_hash,
        "warnings": signed["warnings"],
        "method": signed["method"],
    }


def series_list(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """Every product, site and attribute or process parameter in scope with approved values:
    n, the effective baseline and the points that break a run rule. Quality attributes first
    (by product, site and test code), then process parameters (by product, site and their
    place in the MBR: process order)."""
    scope.require(Perm.QC_READ)
    series = data.all_series(session, scope)
    frozen = data.effective_baselines(session, scope)
    programs = data.programs_by_id(session, scope, {k.program_id for k in series})
    sites = data.site_names(session, {k.site_id for k in series})
    ranked: list[tuple[tuple[bool, str, str, int, str], dict[str, Any]]] = []
    for key, points in series.items():
        program = programs.get(key.program_id)
        if program is None:
            continue
        b = frozen.get(key)
        about = data.describe_series(session, key, points)
        view = dom.judge_series(
            points, dom.SpecLimits(None, None, ""),
            limits=data.limits_of(b) if b else None, limits_unit=b.unit if b else None,
            baseline_batches=data.baseline_batches(b) if b else frozenset(),
            baseline_end=b.period_end if b else None,
        )  # fmt: skip
        site = sites.get(key.site_id, "")
        row = {
            "program_id": key.program_id,
            "product": program.code,
            "site_id": key.site_id,
            "site": site,
            "attribute": key.attribute,
            "kind": about.kind,
            "name": about.name,
            "unit": about.unit,
            "n": len(points),
            "last_batch": points[-1].batch,
            "baseline_id": b.id if b else None,
            "baseline_frozen_at": b.frozen_at if b else None,
            "flagged": len(view.flagged),
            "problem": view.problem,
        }
        rank = (about.kind != dom.QUALITY, program.code, site, about.position, key.attribute)
        ranked.append((rank, row))
    return [row for _, row in sorted(ranked, key=lambda r: r[0])]


def _series_key(
    session: Session, scope: Scope, program_id: int | str, site: int | str | None, test: str
) -> tuple[Program, data.SeriesKey | None, list[dict[str, Any]]]:
    program = get_scoped(session, scope, Program, program_id)
    scope.require(Perm.QC_READ)
    mine = [r for r in series_list(session, scope) if r["program_id"] == program.id]
    chosen = [
        r
        for r in mine
        if (site in (None, "") or str(r["site_id"]) == str(site))
        and (not test or r["attribute"] == test)
    ]
    if not chosen:
        return program, None, mine
    first = chosen[0]
    return program, data.SeriesKey(program.id, first["site_id"], first["attribute"]), mine


def dashboard(
    session: Session,
    scope: Scope,
    program_id: int | str,
    *,
    site: int | str | None = None,
    attribute: str = "",
) -> dict[str, Any]:
    """One series: its chart against the effective baseline (or provisional limits), each
    point with its rules and links, capability against the specification, the results left
    out and the baselines frozen so far. Without ``site``/``attribute`` the first series of the
    program."""
    program, key, mine = _series_key(session, scope, program_id, site, attribute)
    page: dict[str, Any] = {
        "program": {"id": program.id, "code": program.code},
        "series": mine,
        "key": None,
    }
    if key is None:
        return page
    points, waiting = data.approved_points(session, scope, key)
    b = data.effective_baseline(session, key)
    about = data.describe_series(session, key, points)
    view = dom.judge_series(
        points, about.spec, limits=data.limits_of(b) if b else None,
        limits_unit=b.unit if b else None,
        baseline_batches=data.baseline_batches(b) if b else frozenset(),
        baseline_end=b.period_end if b else None,
    )  # fmt: skip
    site_name = data.site_names(session, [key.site_id]).get(key.site_id, "")
    title = f"{program.code} · {about.name} · {site_name}"
    unit = view.unit or about.unit
    cap = view.capability
    return page | {
        "key": {"program_id": key.program_id, "site_id": key.site_id, "attribute": key.attribute},
        "site": site_name,
        "attribute": {
            "code": key.attribute,
            "name": about.name,
            "unit": unit,
            "unit_text": about.unit_text,
            "kind": about.kind,
        },
        "spec": {
            "id": about.version_id,
            "source": about.spec.source,
            "label": about.version_label,
            "criterion": about.spec.text,
            "lsl": about.spec.lsl,
            "usl": about.spec.usl,
            "versions": sorted({p.version_id for p in points}),
        },
        "problem": view.problem,
        "frozen": view.frozen,
        "chart": None if view.chart is None else _chart(view.chart, b),
        "points": [_judged(j) for j in view.points],
        "flagged": [_judged(j) for j in view.flagged],
        "capability": None if cap is None else _capability(cap),
        "capability_problem": view.capability_problem,
        "cpk_warning": view.cpk_warning,
        "warnings": list(view.warnings),
        "figure": dom.figure(view, title, unit) if view.chart is not None else None,
        "title": title,
        "waiting": waiting,
        "invalidated": data.invalidated(session, scope, key),
        "baseline": _baseline_public(b, site_name) if b else None,
        "baselines": [
            _baseline_public(x, site_name) for x in data.baselines_of(session, scope, key)
        ],
        "period_default": {
            "start": points[0].made_at.date() if points else None,
            "end": points[-1].made_at.date() if points else None,
        },
    }


def _chart(chart: Any, frozen: CpvBaseline | None) -> dict[str, Any]:
    s = chart.secondary
    method = chart.sigma_method
    if frozen is not None:
        method = f"{baselines.content(frozen)['method']['sigma']}, frozen with baseline {frozen.id}"
    return {
        "center": chart.center,
        "lcl": chart.lcl,
        "ucl": chart.ucl,
        "sigma": chart.sigma,
        "sigma_method": method,
        "k": chart.k,
        "rule_set": chart.rule_set,
        "rules": {lab: chart.rule_descriptions.get(lab, lab) for lab in chart.signals},
        "mr_center": s.center if s else None,
        "mr_ucl": s.ucl if s else None,
        "mr_beyond": list(s.beyond) if s else [],
        "provenance": chart.provenance.to_dict(),
    }


def _judged(j: dom.Judged) -> dict[str, Any]:
    p = j.point
    return {
        "index": j.index,
        "batch_id": p.batch_id,
        "batch": p.batch,
        "result_id": p.result_id,
        "source": p.source,
        "entry_seq": p.entry_seq,
        "made_on": p.made_at.date(),
        "value": p.value,
        "unit": p.unit,
        "converted_from": p.converted_from,
        "rounded": p.rounded,
        "outcome": p.outcome,
        "disposition": p.disposition,
        "phase": j.phase,
        "rules": list(j.rules),
        "moving_range": j.moving_range,
    }


def _capability(cap: Any) -> dict[str, Any]:
    names = ("cp", "cpl", "cpu", "cpk", "pp", "ppl", "ppu", "ppk")
    return {
        "n": cap.n,
        "mean": cap.mean,
        "sigma_within": cap.sigma_within,
        "sigma_within_method": cap.sigma_within_method,
        "sigma_overall": cap.sigma_overall,
        "sigma_overall_method": cap.sigma_overall_method,
        "confidence": cap.confidence,
        "indices": {n: getattr(cap, n) for n in names},
        "intervals": {n: list(v) for n, v in cap.intervals.items()},
        "warnings": list(cap.warnings),
        "provenance": cap.provenance.to_dict(),
    }


def baseline_detail(session: Session, scope: Scope, baseline_id: int | str) -> dict[str, Any]:
    b = baselines.get_baseline(session, scope, baseline_id)
    signed = baselines.content(b)
    return _baseline_public(b) | {
        "points": signed["points"],
        "records": signed.get("records") or [f"qc_result {p[1]}" for p in signed["points"]],
        "signatures": [s.public() for s in signatures_for(session, baselines.RECORD, b.id)],
    }


def conformance(
    session: Session,
    scope: Scope,
    program_id: int | str,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> dict[str, Any]:
    """Every batch of the program started in the period: how many met the specification and
    every exception (docs/cpv.md)."""
    program = get_scoped(session, scope, Program, program_id)
    scope.require(Perm.QC_READ)
    if start is not None and end is not None and end < start:
        raise InputError(f"the period ends ({end}) before it starts ({start})", field="end")
    facts = data.period_batches(session, scope, program.id, start, end)
    summary = dom.conformance(facts)
    return {
        "program": {"id": program.id, "code": program.code},
        "start": start,
        "end": end,
        "batches": [
            {
                "batch_id": b.batch_id,
                "batch": b.batch,
                "site": b.site,
                "made_on": b.made_at.date(),
                "batch_status": b.batch_status,
                "disposition": b.disposition,
                "met": dom.met_specification(b),
            }
            for b in facts
        ],
        "count": summary["batches"],
        "decided": summary["decided"],
        "met": summary["met"],
        "all_met": summary["all_met"],
        "exceptions": [vars(e) for e in summary["exceptions"]],
        "kinds": summary["kinds"],
    }


def program_by_code(session: Session, scope: Scope, code: str) -> int:
    """A program's id by its code, within the caller's scope (the command line)."""
    stmt = scoped_select(scope, Program).where(func.upper(Program.code) == code.strip().upper())
    found = session.scalars(stmt).first()
    if found is None:
        raise NotFound(f"no program with the code '{code}'")
    return found.id


def site_by_name(session: Session, name: str) -> int:
    """A manufacturing site's id by its name, or by a unique part of it ("Ghent")."""
    text = name.strip()
    if text.isdigit():
        return int(text)
    sites = list(session.scalars(select(Site)))
    exact = [s for s in sites if s.name.casefold() == text.casefold()]
    part = [s for s in sites if text.casefold() in s.name.casefold()]
    found = exact or part
    if len(found) != 1:
        raise NotFound(
            f"no single site named '{name}'" + (f" ({len(found)} match)" if found else "")
        )
    return found[0].id
