"""The steering-committee report of a readout, as HTML (self-contained: figures embedded as
PNG) or PDF (fpdf2), both printed from one document model (``report_document.py``):
numbered tables and figures with captions and footnotes (population, conventions, data
cut-off), doses with their unit, durations in days, weeks and months, the confidential
marking on every page, the report version and its status, and the sign-off block of the
named steering-committee members (signed or awaiting signature).

The figures are the matplotlib renderings (``figures.py``) of the same ``plot_data`` the study
page draws with Plotly, in the same colours (``colours.py``), with the Kaplan-Meier bands and
the spider plot's subject labels in both. The PDF is rendered by the reports kit
(``reports/pdf_document.py``): two figures a page, shrunk rather than moved, so that no
figure page is half empty.

``anchors`` (optional) are labelled lines that tie the report to stored records: the dataset
version's SHA-256 and the audit trail's head hash (docs/audit-trail.md, "Anchoring the head").
They are printed with the provenance and in the footer of every page.

The PDF is deterministic: the same document (and ``created``) gives the same bytes, so a
stored report version downloads byte for byte the same while nothing about it changed.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, select_autoescape

from vein2vein.core.canonical import sha256_hex
from vein2vein.core.kept import Kept
from vein2vein.reports import document as K

from . import report_document as D
from .figures import render_all

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .readout import ReadoutResult

TITLE = "Clinical readout"


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130, metadata={"Software": None})
    return buf.getvalue()


@dataclass(frozen=True)
class Picture:
    """A rendered figure: PNG bytes and the figure's size in inches."""

    png: bytes
    width: float
    height: float


#: the pictures of the last few readouts, by the hash of their plot data: a stored report
#: version downloaded again (or its page and PDF) does not draw its figures again
_PICTURES: Kept[str, dict[str, Picture]] = Kept(8)


def pictures(data: Mapping[str, Any]) -> dict[str, Picture]:
    """The figures of ``data`` as PNG (drawn once per distinct data, kept for a few)."""

    def draw() -> dict[str, Picture]:
        return {
            k: Picture(_png(f), f.get_figwidth(), f.get_figheight())
            for k, f in render_all(dict(data)).items()
        }

    return _PICTURES.get_or_make(sha256_hex(data), draw)


def _figures(result: ReadoutResult) -> tuple[dict[str, Any], dict[str, Picture]]:
    data = result.plot_data()
    return data, pictures(data)


def document(
    result: ReadoutResult,
    title: str = TITLE,
    *,
    anchors: Mapping[str, str] | None = None,
    meta: D.ReportMeta | None = None,
    data: Mapping[str, Any] | None = None,
) -> D.ReportDocument:
    meta = meta or D.ReportMeta(anchors=dict(anchors or {}))
    if anchors and not meta.anchors:
        meta = replace(meta, anchors=dict(anchors))
    return D.build(result, title, meta, data)


# ------------------------------------------------------------------ HTML


def to_html(
    result: ReadoutResult,
    title: str = TITLE,
    *,
    anchors: Mapping[str, str] | None = None,
    meta: D.ReportMeta | None = None,
) -> str:
    data, figs = _figures(result)
    doc = document(result, title, anchors=anchors, meta=meta, data=data)
    env = Environment(
        loader=PackageLoader("vein2vein.clinical", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    images = {k: base64.b64encode(p.png).decode() for k, p in figs.items()}
    return env.get_template("report.html.j2").render(doc=doc, images=images)


# ------------------------------------------------------------------ PDF (the reports kit)

#: relative column widths of the tables that need their own
WIDTHS: dict[str, tuple[float, ...]] = {"subjects": (0.75, 0.8, 0.5, 0.75, 0.7, 1.5, 1.5, 1.5)}
#: the anchors printed at the foot of every page (the rest with the provenance)
FOOTER_ANCHORS = ("Dataset SHA-256", "Audit trail head", "Report content SHA-256")
SIGN_STATEMENT = (
    "By signing electronically (user name and password asked again; 21 CFR 11.50, 11.200), "
    "each named member of the steering committee approves this report version. The report "
    "is final when every named member has signed."
)
NOT_STORED = (
    "This report is not a stored report version: it carries no signatures. A steering "
    "committee signs a report version generated on the study page."
)


_ALIGN: tuple[K.Align, ...] = ("L", "C")


def _kit_table(t: D.Table) -> K.Table:
    n = len(t.columns)
    return K.Table(
        t.title,
        t.columns,
        t.rows,
        t.footnotes,
        align=_ALIGN[:1] + _ALIGN[1:] * (n - 1),
        widths=WIDTHS.get(t.key, (1.4,) + (1.0,) * (n - 1)),
    )


def _kit_signoff(doc: D.ReportDocument) -> K.SignOff:
    s = doc.meta.signoff
    if s is None or not s.signatories:
        return K.SignOff((K.Signatory("Steering committee member"),), NOT_STORED)
    lines = []
    for p in s.signatories:
        sig = s.signature_of(p.username)
        role = f"Steering committee member ({p.username})"
        if sig is None:
            lines.append(K.Signatory(role, p.printed_name, "awaiting signature"))
        else:
            lines.append(K.Signatory(role, sig.printed_name, sig.meaning, sig.signed_at))
    return K.SignOff(tuple(lines), SIGN_STATEMENT)


def kit_document(
    doc: D.ReportDocument, figs: Mapping[str, Picture], created: dt.datetime
) -> K.Document:
    """The report as the reports kit's document (``reports/document.py``), whose PDF renderer
    numbers tables and figures in order, heads and foots every page with the marking, the
    version and the anchors, and keeps figure pages from being half empty."""
    anchors = doc.meta.anchors
    facts = [f"Status: {doc.meta.status}."] + [
        f"{k}: {anchors[k]}" for k in ("Study", "Dataset", "Generated") if k in anchors
    ]
    tables = {t.key: t for t in doc.tables}
    sections = [
        K.Section("Report", tuple(K.Paragraph(f) for f in facts)),
        K.Section("Conventions", tuple(K.Paragraph(c, note=True) for c in doc.conventions)),
        K.Section(
            "Response and time to event",
            (_kit_table(tables["response"]), _kit_table(tables["time_to_event"])),
        ),
        K.Section("Subjects", (_kit_table(tables["subjects"]),)),
        K.Section(
            "Figures",
            tuple(K.Figure(f.title, figs[f.key].png, f.footnotes, f.title) for f in doc.figures),
        ),
    ]
    if "disagreements" in tables:
        sections.append(
            K.Section("Investigator and derived responses", (_kit_table(tables["disagreements"]),))
        )
    if doc.warnings:
        sections.append(K.Section("Warnings", tuple(K.Paragraph(f"- {w}") for w in doc.warnings)))
    prov = [K.Paragraph(line, note=True) for line in doc.provenance.splitlines()]
    prov += [K.Paragraph(f"{k}: {v}", note=True) for k, v in anchors.items()]
    sections.append(K.Section("Provenance", tuple(prov)))
    sections.append(K.Section("Sign-off", (_kit_signoff(doc),)))
    kit = K.Document(
        title=doc.title,
        sections=tuple(sections),
        marking=doc.marking,
        version=doc.meta.version_label,
        anchors=tuple(f"{k}: {anchors[k]}" for k in FOOTER_ANCHORS if k in anchors),
        created_at=created,
        keywords=f"report-content-sha256:{anchors.get('Report content SHA-256', '')}",
    )
    _check_numbers(doc, kit)
    return kit


def _check_numbers(doc: D.ReportDocument, kit: K.Document) -> None:
    """The kit numbers tables and figures in document order: the same numbers as the page's."""
    printed = {
        K.caption_of(b, n)
        for _, blocks in K.numbered(kit)
        for b, n in blocks
        if isinstance(b, K.Table | K.Figure)
    }
    ours = {t.caption for t in doc.tables} | {f.caption for f in doc.figures}
    if printed != ours:  # pragma: no cover - a section order changed without the numbers
        raise AssertionError(f"report numbering differs: {sorted(printed ^ ours)}")


def to_pdf(
    result: ReadoutResult,
    title: str = TITLE,
    *,
    anchors: Mapping[str, str] | None = None,
    meta: D.ReportMeta | None = None,
    created: dt.datetime | None = None,
) -> bytes:
    """The report as PDF bytes through the reports kit (``created``: the date written into the
    file and printed under the title, now unless given; a stored report version passes its
    generation time, so that rendering it again gives the same bytes)."""
    from vein2vein.reports.pdf_document import render_pdf

    data, figs = _figures(result)
    doc = document(result, title, anchors=anchors, meta=meta, data=data)
    when = created or dt.datetime.now(dt.UTC).replace(microsecond=0)
    return render_pdf(kit_document(doc, figs, when))


def write_report(result: ReadoutResult, path: str | Path, title: str = TITLE) -> Path:
    """Write ``path`` as HTML or PDF, chosen by its suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        path.write_text(to_html(result, title), encoding="utf-8")
    elif suffix == ".pdf":
        path.write_bytes(to_pdf(result, title))
    else:
        raise ValueError(f"report must end in .html or .pdf, not {path.name!r}")
    return path
