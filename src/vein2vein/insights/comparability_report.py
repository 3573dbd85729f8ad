"""The report of a comparability run: the rows the page, the PDF and the command line share,
the figure of each attribute (the statistics engine's ``stats.report.attribute_figure``: values
by arm, and the (1 − 2α) interval against the equivalence bounds or the test lots against the
reference range), and the PDF through the shared document kit (``reports/document.py``,
rendered by ``reports/pdf_document.py``).

Every form of the report names the protocol version it applied, whether that version was
superseded since (and by which), whether it was written after results of the test arm could
be shown, the two signatures, the engine's small-n warnings, and the provenance of the stored
result (method, options, input hash, library versions); every PDF page ends with the run, the
protocol's content hash and the inputs' hash.
"""

from __future__ import annotations

import io
from typing import Any

from vein2vein.stats.comparability import AttributeOutcome, ComparabilityResult
from vein2vein.stats.equivalence import TostResult
from vein2vein.stats.results import fmt


def _num(value: float | None) -> str:
    return fmt(value, 4)


def attribute_rows(result: ComparabilityResult) -> list[dict[str, Any]]:
    """One row per attribute: plan, both arms' n / mean / SD, the criterion's numbers, the
    conclusion and the statement, and the engine's warnings."""
    rows = []
    for a in result.attributes:
        res = a.result
        criterion = ""
        if isinstance(res, TostResult):
            criterion = (
                f"{100 * res.confidence_level:g}% CI ({_num(res.ci_low)}, {_num(res.ci_high)}) "
                f"vs bounds ({_num(res.lower)}, {_num(res.upper)})"
            )
        elif res is not None:
            criterion = f"range ({_num(res.lower)}, {_num(res.upper)})"
        notes = list(a.warnings) + [w for w in getattr(res, "warnings", ()) if w not in a.warnings]
        rows.append(
            {
                "name": a.plan.name,
                "tier": a.plan.tier,
                "method": a.plan.method,
                "unit": a.plan.unit,
                "n_reference": a.reference.n,
                "mean_reference": a.reference.mean,
                "sd_reference": a.reference.sd,
                "n_test": a.test.n,
                "mean_test": a.test.mean,
                "sd_test": a.test.sd,
                "criterion": criterion,
                "conclusion": a.conclusion,
                "statement": a.statement,
                "warnings": notes,
            }
        )
    return rows


def figure(a: AttributeOutcome, fmt_: str = "svg") -> bytes:
    """The engine's figure of one attribute as SVG or PNG bytes."""
    from vein2vein.stats.report import attribute_figure

    fig = attribute_figure(a)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt_, dpi=110)
    return buf.getvalue()


def figure_svg(a: AttributeOutcome) -> str:
    text = figure(a, "svg").decode("utf-8")
    return text[text.index("<svg") :]


def headline(detail: dict[str, Any]) -> list[str]:
    """The lines that say which protocol this is and what became of it."""
    p = detail["protocol"]
    lines = [f"Protocol {p['label']} ({p['status']}), content SHA-256 {p['content_hash']}"]
    if detail["superseded"] or detail["superseded_by"]:
        later = ", ".join(detail["superseded_by"]) or "a later version"
        lines.append(f"SUPERSEDED: this run applied {p['label']}; since replaced by {later}.")
    if detail["written_after_unblinding"]:
        lines.append(f"Note: this version was {detail['written_after_unblinding']}.")
    return lines


def render_html(detail: dict[str, Any]) -> str:
    """A standalone HTML file: the engine's report (``stats.report.render_html``) headed by
    which protocol version it applied and what became of it."""
    from html import escape

    from vein2vein.stats.report import render_html as engine_html

    page = engine_html(detail["result"])
    head = "".join(f"<p><strong>{escape(line)}</strong></p>" for line in headline(detail))
    run = detail["run"]
    head += f"<p>Run {run['id']}, inputs SHA-256 {escape(run['inputs_hash'])}</p>"
    at = page.find("<body>")
    return page[: at + 6] + head + page[at + 6 :] if at >= 0 else head + page


# --------------------------------------------------------------------------------------------
# PDF (the shared document kit, reports/document.py)
# --------------------------------------------------------------------------------------------


def document(detail: dict[str, Any]) -> Any:
    """The report as the document kit's :class:`~vein2vein.reports.document.Document`:
    numbered tables and figures with captions and footnotes, a confidential marking, the
    protocol version, the protocol's signatures, and run / protocol / inputs hashes on every
    page."""
    from vein2vein.reports.document import (
        Document,
        Figure,
        Paragraph,
        Section,
        Signatory,
        SignOff,
        Table,
    )
    from vein2vein.stats.report import attribute_figure

    run, p, content = detail["run"], detail["protocol"], detail["content"]
    result: ComparabilityResult = detail["result"]
    stored = detail["stored_result"]
    ref, test = content["reference"], content["test"]
    study = [
        *(Paragraph(line) for line in headline(detail)),
        Paragraph(f"Program {p['program']}. Change: {content['change']}"),
        Paragraph(
            f"Reference arm: {ref['label']} ({ref['site']}{_version(ref)}); test arm: "
            f"{test['label']} ({test['site']}{_version(test)}); significance level "
            f"{content['alpha']:g}."
        ),
        Paragraph(
            f"Run {run['id']} on {run['run_at']:%Y-%m-%d %H:%M} UTC by {run['run_by']}, on the "
            "approved results stored then (docs/comparability.md, 'Approved results')."
        ),
        Paragraph(f"Conclusion: {stored['conclusion']}."),
    ]
    rows = attribute_rows(result)
    table = Table(
        caption="Result per attribute",
        columns=(
            "Attribute",
            "Tier / method",
            "Reference n, mean (SD)",
            "Test n, mean (SD)",
            "Criterion",
            "Result",
        ),
        rows=tuple(
            (
                r["name"] + (f" ({r['unit']})" if r["unit"] else ""),
                f"{r['tier']} / {r['method']}",
                f"{r['n_reference']}, {_num(r['mean_reference'])} ({_num(r['sd_reference'])})",
                f"{r['n_test']}, {_num(r['mean_test'])} ({_num(r['sd_test'])})",
                r["criterion"] or "-",
                r["conclusion"],
            )
            for r in rows
        ),
        footnotes=(
            "TOST: two one-sided tests of the difference test - reference (Schuirmann 1987); "
            "equivalence when the (1 - 2 alpha) interval lies inside the bounds. Quality range: "
            "reference mean +/- k SD; min-max: the reference range; all test lots inside.",
            *stored.get("warnings", ()),
        ),
        widths=(1.3, 1.1, 1.4, 1.4, 2.2, 0.9),
    )
    figures = [
        Figure.from_matplotlib(
            attribute_figure(a),
            f"{a.plan.name} (tier {a.plan.tier}, {a.plan.method}): values by arm and "
            f"{_against(a.plan.method)}; "
            f"n reference {a.reference.n}, n test {a.test.n}",
            (a.statement, *((f"Rationale: {a.plan.rationale}",) if a.plan.rationale else ())),
            dpi=110,
        )
        for a in result.attributes
    ]
    prov = stored["provenance"]
    provenance_ = [
        Paragraph(f"Method: {prov['method']}.", note=True),
        Paragraph(f"Options: {prov['options']}.", note=True),
        Paragraph(f"Input SHA-256: {prov['input_hash']}.", note=True),
        Paragraph(
            "Software: "
            + ", ".join(f"{k} {v}" for k, v in sorted(prov["library_versions"].items()))
            + f". Computed {prov['computed_at']}.",
            note=True,
        ),
    ]
    values = Table(
        caption="Values used, each with the record it was read from",
        columns=("Arm", "Attribute", "Order (batch)", "Value", "Unit", "Record"),
        rows=tuple(
            (arm, attribute, f"{order} ({batch_id})", f"{value:.4g}", unit, record)
            for arm, attribute, batch_id, order, value, unit, record in detail["inputs"]["values"]
        ),
        footnotes=tuple(
            f"Missing: {m['arm']} {m['attribute']} {m['order']} (batch {m['batch_id']}): "
            f"{m['reason']}"
            for m in detail["inputs"]["missing"]
        ),
        align=("L", "L", "L", "R", "L", "L"),
        widths=(0.8, 1.3, 1.6, 0.8, 1.0, 1.6),
    )
    signatories = tuple(
        Signatory(
            "Author" if s["meaning"] == "authored" else "QA approval",
            s["printed_name"],
            s["meaning"],
            str(s["signed_at"])[:16].replace("T", " "),
        )
        for s in detail["signatures"]
    )
    return Document(
        title=f"Comparability report: {content['title']}",
        subtitle=f"Protocol {p['label']}, run {run['id']}",
        marking="CONFIDENTIAL",
        version=f"protocol {p['label']}",
        anchors=(
            f"Run {run['id']} of {p['label']}; protocol SHA-256 {p['content_hash']}",
            f"Inputs SHA-256 {run['inputs_hash']}",
        ),
        created_at=run["run_at"],
        keywords=f"comparability-run:{run['id']} inputs-sha256:{run['inputs_hash']}",
        sections=(
            Section("Study", tuple(study)),
            Section("Results", (table,)),
            Section("Figures", tuple(figures)),
            Section("Provenance of the stored result", tuple(provenance_)),
            Section("Values used", (values,)),
            Section(
                "Protocol signatures",
                (SignOff(signatories, "The protocol version this run applied was signed by:"),),
            ),
        ),
    )


def _against(method: str) -> str:
    if method == "tost":
        return "the interval against the bounds"
    return "the values described" if method == "descriptive" else "the test lots against the range"


def render_pdf(detail: dict[str, Any]) -> bytes:
    """The report as PDF, rendered by the document kit (``reports/pdf_document.py``)."""
    from vein2vein.reports.pdf_document import render_pdf as render

    return render(document(detail))


def _version(arm: dict[str, Any]) -> str:
    return f", MBR v{arm['mbr_version']}" if arm.get("mbr_version") is not None else ""
