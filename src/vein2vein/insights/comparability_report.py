"""The report of a comparability run: the rows the page, the PDF and the command line share,
the figure of each attribute (the statistics engine's ``stats.report.attribute_figure``: values
by arm, and the (1 − 2α) interval against the equivalence bounds or the test lots against the
reference range), and the PDF (fpdf2 through ``reports/pdf.py``).

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
# PDF
# --------------------------------------------------------------------------------------------


def render_pdf(detail: dict[str, Any]) -> bytes:
    from vein2vein.reports.pdf import anchored_pdf, latin1

    run, p, content = detail["run"], detail["protocol"], detail["content"]
    result: ComparabilityResult = detail["result"]
    stored = detail["stored_result"]
    pdf = anchored_pdf(
        [
            f"Comparability run {run['id']} of {p['label']} - protocol SHA-256 {p['content_hash']}",
            f"Inputs SHA-256 {run['inputs_hash']}",
        ]
    )
    pdf.set_title(latin1(f"Comparability report {p['label']} run {run['id']}"))
    pdf.set_author("vein2vein")
    pdf.set_creation_date(run["run_at"])
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def para(text: str, size: float = 9, style: str = "") -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.multi_cell(width, size * 0.5, latin1(text), align="L", new_x="LMARGIN", new_y="NEXT")

    para(f"Comparability report: {content['title']}", 14, "B")
    for line in headline(detail):
        para(line, 9, "B" if line.startswith("SUPERSEDED") else "")
    para(f"Program {p['program']}. Change: {content['change']}")
    para(
        f"Reference arm: {content['reference']['label']} ({content['reference']['site']}"
        f"{_version(content['reference'])}); test arm: {content['test']['label']} "
        f"({content['test']['site']}{_version(content['test'])}); alpha {content['alpha']:g}."
    )
    para(f"Run {run['id']} on {run['run_at']:%Y-%m-%d %H:%M} UTC by {run['run_by']}.")
    for s in detail["signatures"]:
        para(f"Signed {s['meaning']}: {s['printed_name']} ({s['username']}), {s['signed_at']}")
    para(f"Conclusion: {stored['conclusion']}", 11, "B")
    pdf.ln(2)
    _table(pdf, width, attribute_rows(result))
    warnings = list(stored.get("warnings", []))
    if warnings:
        para("Warnings (small numbers of lots; read with the results)", 10, "B")
        for w in warnings:
            para(f"- {w}", 8)
    prov = stored["provenance"]
    para("Provenance of the stored result", 10, "B")
    para(
        f"Method: {prov['method']}. Options: {prov['options']}. Input SHA-256: "
        f"{prov['input_hash']}. Software: "
        + ", ".join(f"{k} {v}" for k, v in sorted(prov["library_versions"].items()))
        + f". Computed {prov['computed_at']}.",
        8,
    )
    pdf.add_page()
    for a in result.attributes:  # two figures a page (the image breaks the page when full)
        if pdf.get_y() > pdf.h * 0.55:
            pdf.add_page()
        para(f"{a.plan.name} (tier {a.plan.tier}, {a.plan.method}): {a.conclusion}", 11, "B")
        para(a.statement, 8)
        if a.plan.rationale:
            para(f"Rationale: {a.plan.rationale}", 8)
        pdf.image(io.BytesIO(figure(a, "png")), w=width)
        pdf.ln(4)
    _values_pages(pdf, width, detail["inputs"])
    return bytes(pdf.output())


def _version(arm: dict[str, Any]) -> str:
    return f", MBR v{arm['mbr_version']}" if arm.get("mbr_version") is not None else ""


def _table(pdf: Any, width: float, rows: list[dict[str, Any]]) -> None:
    from vein2vein.reports.pdf import latin1

    cols = [("Attribute", 0.16), ("Tier/method", 0.14), ("Reference n, mean (SD)", 0.18),
            ("Test n, mean (SD)", 0.18), ("Criterion", 0.24), ("Result", 0.10)]  # fmt: skip
    pdf.set_font("Helvetica", "B", 7)
    for name, share in cols:
        pdf.cell(width * share, 5, name, border=1)
    pdf.ln()
    pdf.set_font("Helvetica", "", 7)
    for r in rows:
        cells = [
            r["name"],
            f"{r['tier']} / {r['method']}",
            f"{r['n_reference']}, {_num(r['mean_reference'])} ({_num(r['sd_reference'])})",
            f"{r['n_test']}, {_num(r['mean_test'])} ({_num(r['sd_test'])})",
            r["criterion"] or "-",
            r["conclusion"],
        ]
        for (_, share), text in zip(cols, cells, strict=True):
            pdf.cell(width * share, 5, latin1(text)[:60], border=1)
        pdf.ln()
    pdf.ln(2)


def _values_pages(pdf: Any, width: float, inputs: dict[str, Any]) -> None:
    from vein2vein.reports.pdf import latin1

    pdf.add_page()
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(width, 6, "Values used (approved results, with the record each was read from)")
    pdf.ln()
    pdf.set_font("Courier", "", 7)
    for arm, attribute, batch_id, order, value, unit, record in inputs["values"]:
        line = (
            f"{arm:<9} {attribute:<18} {order:<16} batch {batch_id:<4} {value:>10.4g} "
            f"{unit:<12} {record}"
        )
        pdf.cell(width, 3.5, latin1(line))
        pdf.ln()
    if inputs["missing"]:
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(width, 6, "Batches of an arm without an approved value")
        pdf.ln()
        pdf.set_font("Courier", "", 7)
        for m in inputs["missing"]:
            line = (
                f"{m['arm']:<9} {m['attribute']:<18} {m['order']:<16} batch {m['batch_id']}: "
                f"{m['reason']}"
            )
            pdf.cell(width, 3.5, latin1(line))
            pdf.ln()
