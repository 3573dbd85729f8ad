"""The readout report as a document (pure): numbered tables and figures with their captions
and footnotes, the confidential marking, the version and the sign-off block. The HTML and PDF
renderers (``report.py``) and the study page print this one model, so their numbers,
captions and conventions cannot drift apart.

Conventions written into every report (footnotes of the tables they concern):

* **population** and its size, the basis of response rates (confirmed or unconfirmed best
  overall response), the criteria (RECIST 1.1 or iRECIST) and the **data cut-off**;
* **percentages** of a response category are of the subjects of the dose level in the
  population (n in the column heading);
* **dose** with its unit, CAR-positive T cells per kg (``report_text.dose``);
* **durations** in days, weeks and months (``report_text.duration``: weeks = days / 7,
  months = days / 30.4375), time zero the infusion, ``+`` censored, NR not reached;
* Kaplan-Meier medians by the R/SAS rule with the Brookmeyer-Crowley interval of the chosen
  transform; rates with exact Clopper-Pearson intervals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import report_text as T

if TYPE_CHECKING:
    from .readout import ReadoutResult

MARKING = "CONFIDENTIAL"
BOR_ORDER = ("CR", "PR", "SD", "NON-CR/NON-PD", "UPD", "PD", "NE", "ND", "MISSING")


@dataclass(frozen=True)
class Table:
    number: int
    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    footnotes: tuple[str, ...] = ()

    @property
    def caption(self) -> str:
        return f"Table {self.number}. {self.title}"


@dataclass(frozen=True)
class FigureRef:
    number: int
    key: str  # waterfall, spider, swimmer, km_os, km_pfs (figures.render_all)
    title: str
    footnotes: tuple[str, ...] = ()

    @property
    def caption(self) -> str:
        return f"Figure {self.number}. {self.title}"


@dataclass(frozen=True)
class Signatory:
    """A steering-committee member named to sign this report version."""

    username: str
    printed_name: str


@dataclass(frozen=True)
class SignedBy:
    username: str
    printed_name: str
    meaning: str
    signed_at: str  # ISO 8601 UTC
    content_hash: str


@dataclass(frozen=True)
class SignOff:
    signatories: tuple[Signatory, ...] = ()
    signatures: tuple[SignedBy, ...] = ()

    def signature_of(self, username: str) -> SignedBy | None:
        return next((s for s in self.signatures if s.username == username), None)

    @property
    def missing(self) -> tuple[Signatory, ...]:
        return tuple(p for p in self.signatories if self.signature_of(p.username) is None)

    @property
    def complete(self) -> bool:
        return bool(self.signatories) and not self.missing


@dataclass(frozen=True)
class ReportMeta:
    """What ties the report to the record: version, status and anchors (all optional for a
    report made from files by ``v2v clinical readout --report``)."""

    #: printed after the title on every page: ``<title>, version <label>``
    version_label: str = "draft, not a stored report version (not for signature)"
    status: str = "draft"
    sponsor: str = ""
    anchors: Mapping[str, str] = field(default_factory=dict)
    signoff: SignOff | None = None
    provenance: str | None = None  # as stored; None: the result's own summary


@dataclass(frozen=True)
class ReportDocument:
    title: str
    marking: str
    meta: ReportMeta
    conventions: tuple[str, ...]
    tables: tuple[Table, ...]
    figures: tuple[FigureRef, ...]
    no_bar: tuple[str, ...]
    warnings: tuple[str, ...]
    provenance: str

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)

    def figure(self, key: str) -> FigureRef:
        return next(f for f in self.figures if f.key == key)


def status_text(signoff: SignOff, superseded_by: int | None) -> str:
    """``final`` when every named member signed, else ``draft (k of n signatures)``; a later
    version makes it ``... - superseded by version m``."""
    n = len(signoff.signatories)
    done = n - len(signoff.missing)
    text = (
        "final (signed by all named members)"
        if signoff.complete
        else f"draft ({done} of {n} signatures)"
    )
    if superseded_by is not None:
        text += f" - superseded by version {superseded_by}"
    return text


def _pct(k: int, n: int) -> str:
    return f"{k} ({100 * k / n:.1f}%)" if n else f"{k}"


def _ci_days(lo: float, hi: float) -> str:
    def one(x: float) -> str:
        return "NR" if math.isnan(x) else f"{x:g}"

    return f"{one(lo)}-{one(hi)} d"


def _group_heading(g: Any) -> str:
    if g.dose_group == "ALL":
        return f"All subjects (n={g.n})"
    dose = T.dose(g.dose_per_kg, unit=False)
    return f"{g.dose_group}: {dose} (n={g.n})" if g.dose_per_kg else f"{g.dose_group} (n={g.n})"


def conventions(result: ReadoutResult) -> tuple[str, ...]:
    o = result.options
    basis = "confirmed" if o.use_confirmed else "unconfirmed"
    n = next((g.n for g in result.groups if g.dose_group == "ALL"), 0)
    return (
        f"Population: {o.population} subjects (n={n}); response from the {basis} best "
        f"overall response ({'iRECIST' if o.irecist else 'RECIST 1.1'}).",
        f"Data cut-off: {o.cutoff.isoformat() if o.cutoff else 'none (all data received)'}.",
        f"Dose: {T.DOSE_UNIT_LONG}, written as a multiple of 10^6.",
        "Durations from infusion (day 0, plain date difference) in days, weeks (days / 7) and "
        "months (days / 30.4375); + = censored; NR = not reached.",
    )


def _response_table(result: ReadoutResult, number: int, conv: tuple[str, ...]) -> Table:
    groups = list(result.groups)
    seen = {c for g in groups for c, k in g.bor_counts.items() if k}
    cats = [c for c in BOR_ORDER if c in seen or c in ("CR", "PR", "SD", "PD", "NE")]
    cats += sorted(seen - set(cats))
    rows = [tuple([c, *(_pct(g.bor_counts.get(c, 0), g.n) for g in groups)]) for c in cats]
    level = f"{100 * result.options.level:g}%"
    rows.append(tuple([f"ORR ({level} CI)", *(g.orr.text() for g in groups)]))
    rows.append(tuple([f"DCR ({level} CI)", *(g.dcr.text() for g in groups)]))
    return Table(
        number,
        "response",
        "Best overall response by dose level, n (%)",
        tuple(["Response", *(_group_heading(g) for g in groups)]),
        tuple(rows),
        (
            conv[0],
            conv[1],
            "Percentages are of the subjects of the dose level in the population (n in the "
            f"heading). ORR = CR + PR; {result.options.dcr_text}; k/n (rate; exact "
            f"Clopper-Pearson {level} interval).",
            conv[2],
        ),
    )


def _time_table(result: ReadoutResult, number: int, conv: tuple[str, ...]) -> Table:
    o = result.options
    level = f"{100 * o.level:g}%"
    rows = []
    for name, attr in (("Overall survival", "os"), ("Progression-free survival", "pfs"),
                       ("Duration of response", "dor")):  # fmt: skip
        cells = []
        for g in result.groups:
            km = getattr(g, attr)
            if not km.n:
                cells.append("-")
                continue
            med = "NR" if math.isnan(km.median) else T.duration(km.median)
            cells.append(f"{med}; {level} CI {_ci_days(km.median_lower, km.median_upper)}")
        rows.append((f"{name}, median", *cells))
    return Table(
        number,
        "time_to_event",
        "Kaplan-Meier medians by dose level",
        tuple(["Endpoint", *(_group_heading(g) for g in result.groups)]),
        tuple(rows),
        (
            conv[3],
            "Kaplan-Meier median by the R/SAS rule (first time S(t) <= 0.5, midpoint of a flat "
            f"step at 0.5); Brookmeyer-Crowley {level} interval, {o.conf_type} transform. "
            "Duration of response: responders only, from the first CR/PR.",
            conv[1],
        ),
    )


def _listing(result: ReadoutResult, number: int, conv: tuple[str, ...]) -> Table:
    s = result.subjects[result.subjects["in_population"].to_numpy()]
    rows = []
    for r in s.itertuples():

        def dur(x: float, ev: int) -> str:
            return T.duration(None if math.isnan(x) else x, censored=ev != 1)

        rows.append(
            (
                str(r.subject_id),
                T.dose(r.dose_per_kg, unit=False),
                str(r.bor or "-") if isinstance(r.bor, str) else "-",
                str(r.bor_confirmed) if isinstance(r.bor_confirmed, str) else "-",
                "-" if math.isnan(r.best_pct_change) else f"{r.best_pct_change:+.1f}",
                dur(r.pfs_days, r.pfs_event),
                dur(r.os_days, r.os_event),
                dur(r.dor_days, r.dor_event),
            )
        )
    return Table(
        number,
        "subjects",
        "Subject listing: dose, response and times to event",
        (
            "Subject",
            f"Dose ({T.DOSE_UNIT})",
            "BOR",
            "Confirmed BOR",
            "Best change (%)",
            "PFS",
            "OS",
            "DOR",
        ),
        tuple(rows),
        (
            conv[0],
            conv[2],
            conv[3],
            "Best change: best percent change of the sum of "
            "diameters of the target lesions from baseline.",
        ),
    )


def _disagreements(result: ReadoutResult, number: int) -> Table | None:
    dis = result.disagreements.drop(columns=["subj"], errors="ignore")
    if not len(dis):
        return None
    return Table(
        number,
        "disagreements",
        "Investigator (RS) versus derived time-point responses",
        tuple(map(str, dis.columns)),
        tuple(tuple("-" if v is None else str(v) for v in row) for row in dis.to_numpy()),
        ("Derived: from the lesion measurements by RECIST 1.1; investigator: RS OVRLRESP.",),
    )


def figure_refs(
    data: Mapping[str, Any], conv: Sequence[str], first: int = 1
) -> tuple[FigureRef, ...]:
    """The numbered figures with captions and footnotes (also the study page's captions)."""
    basis = conv[0]
    specs = (
        ("waterfall", "Waterfall plot: best percent change of the sum of diameters from "
         "baseline, one bar per subject, coloured by best overall response",
         (basis, "Dashed lines: +20% (progression) and -30% (partial response)."
          + (f" No bar (no evaluable post-baseline sum): {', '.join(data['waterfall_no_bar'])}."
             if data.get("waterfall_no_bar") else ""))),
        ("spider", "Spider plot: percent change from baseline over time, one line per "
         "subject labelled at its end, coloured by dose level",
         (basis, "x = new lesion. Weeks since infusion.", conv[2])),
        ("swimmer", "Swimmer plot: time on study per subject, coloured by dose level, with "
         "response, progression, new therapy or surgery and death marked",
         (conv[3], conv[2], conv[1])),
        ("km_os", "Overall survival by dose level (Kaplan-Meier) with the pointwise "
         "confidence band and the numbers at risk", (conv[3], conv[1])),
        ("km_pfs", "Progression-free survival by dose level (Kaplan-Meier) with the "
         "pointwise confidence band and the numbers at risk", (conv[3], conv[1])),
    )  # fmt: skip
    return tuple(
        FigureRef(first + i, key, title, tuple(notes))
        for i, (key, title, notes) in enumerate(specs)
    )


def build(
    result: ReadoutResult,
    title: str,
    meta: ReportMeta | None = None,
    data: Mapping[str, Any] | None = None,
) -> ReportDocument:
    meta = meta or ReportMeta()
    data = data if data is not None else result.plot_data()
    conv = conventions(result)
    tables = [_response_table(result, 1, conv), _time_table(result, 2, conv),
              _listing(result, 3, conv)]  # fmt: skip
    dis = _disagreements(result, 4)
    if dis is not None:
        tables.append(dis)
    return ReportDocument(
        title=title,
        marking=f"{MARKING}" + (f" - {meta.sponsor}" if meta.sponsor else ""),
        meta=meta,
        conventions=conv,
        tables=tuple(tables),
        figures=figure_refs(data, conv),
        no_bar=tuple(data.get("waterfall_no_bar") or ()),
        warnings=tuple(result.warnings),
        provenance=meta.provenance or result.provenance.summary(),
    )
