"""PDF pieces shared by the features' reports (fpdf2, its core fonts).

The core fonts of a PDF (Helvetica, Courier) cover Latin-1 only: :func:`latin1` writes the few
typographic characters the reports use in ASCII and replaces anything else with ``?``, so a
report never fails on a name. :func:`anchored_pdf` makes an A4 document whose every page ends
with the given lines (a dataset hash, the audit trail's head) and its page number, so a single
printed page still says what it belongs to (docs/audit-trail.md, "Anchoring the head").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fpdf import FPDF

_ASCII = {
    "−": "-",
    "–": "-",
    "—": "-",
    "≥": ">=",
    "≤": "<=",
    "×": "x",
    "…": "...",
    "→": "->",
    "‘": "'",
    "’": "'",
    "“": '"',
    "”": '"',
    "α": "alpha",
    "β": "beta",
    "γ": "gamma",
}


def latin1(text: str) -> str:
    """``text`` in the core fonts' Latin-1 (typographic characters in ASCII, others ``?``)."""
    for k, v in _ASCII.items():
        text = text.replace(k, v)
    return text.encode("latin-1", "replace").decode("latin-1")


def anchored_pdf(
    footer: Sequence[str],
    orientation: str = "P",
    *,
    page_label: str = "Page {page}/{pages}",
    header: Sequence[str] = (),
) -> FPDF:
    """An A4 document (``P`` portrait, ``L`` landscape) whose pages end with ``footer`` in a
    small monospaced font and the page number (``page_label``: ``Page n/N`` unless given, e.g.
    ``Page {page} of {pages}``); the page-break margin leaves room for them. ``header`` lines
    (a marking such as ``CONFIDENTIAL``, the title and version) head every page, the first
    in bold."""
    from fpdf import FPDF

    lines = [latin1(line) for line in footer]
    heads = [latin1(line) for line in header]

    class _Pdf(FPDF):
        def header(self) -> None:
            if not heads:
                return
            self.set_y(5)
            for i, line in enumerate(heads):
                self.set_font("Helvetica", "B" if i == 0 else "", 7)
                self.cell(0, 3.2, line, align="C", new_x="LMARGIN", new_y="NEXT")
            self.set_y(max(self.t_margin, self.get_y() + 2))

        def footer(self) -> None:
            self.set_y(-(6 + 3 * len(lines)))
            self.set_font("Courier", "", 6)
            for line in lines:
                self.cell(0, 3, line, align="C", new_x="LMARGIN", new_y="NEXT")
            self.set_font("Helvetica", "", 6)
            label = page_label.format(page=self.page_no(), pages="{nb}")
            self.cell(0, 3, label, align="C")

    pdf = _Pdf(orientation=orientation, unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=12 + 3 * len(lines))
    if heads:
        pdf.set_top_margin(7 + 3.2 * len(heads))
    return pdf
