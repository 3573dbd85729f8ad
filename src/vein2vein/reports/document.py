"""A renderer-neutral document: what a report says, not how a page looks (issue 14).

A :class:`Document` has a title, a subtitle, a marking (``CONFIDENTIAL``), a version, the
anchor lines every page carries (record ids, the audit chain's head hash), and sections of
blocks: :class:`Paragraph`, :class:`Table`, :class:`Figure` and :class:`SignOff`. Tables and
figures are numbered in document order, each kind on its own (``Table 1.``, ``Figure 1.``);
:func:`numbered` gives the numbers and :func:`caption_of` the printed caption, so the PDF
(``reports/pdf_document.py``), the Word file (``reports/docx_document.py``) and the HTML
fragment (``reports/html_document.py``) number alike.

Conventions (ICH E3 §10-14 and the CTD's numbered tables): a table's caption stands above it,
a figure's below; footnotes follow the table or figure they belong to; a table's header row
repeats on every page it spans. Text is plain Unicode; the PDF renderer writes it in its core
fonts' Latin-1 (``reports/pdf.py``).

Pure: no I/O, no web or database imports. A matplotlib figure becomes PNG bytes through
:meth:`Figure.from_matplotlib` (matplotlib imported there only, no software stamp in the
file, so the same figure gives the same bytes).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure

Align = Literal["L", "C", "R"]

__all__ = [
    "Align",
    "Block",
    "Document",
    "Figure",
    "Paragraph",
    "Section",
    "SignOff",
    "Signatory",
    "Table",
    "caption_of",
    "numbered",
    "png_size",
]


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of text; ``note`` paragraphs print smaller (conventions, population)."""

    text: str
    note: bool = False


@dataclass(frozen=True)
class Table:
    """A numbered table: ``columns`` (the header row), ``rows`` of text cells, ``footnotes``
    printed under it, per-column ``align`` (``L``/``C``/``R``; left unless given) and relative
    ``widths`` (equal unless given). ``repeat_header`` repeats the header row on every page
    the table spans (PDF) and marks it as a repeating header row (Word)."""

    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    footnotes: tuple[str, ...] = ()
    align: tuple[Align, ...] = ()
    widths: tuple[float, ...] = ()
    repeat_header: bool = True

    def __post_init__(self) -> None:
        n = len(self.columns)
        if n == 0:
            raise ValueError(f"table {self.caption!r} has no columns")
        for i, row in enumerate(self.rows, start=1):
            if len(row) != n:
                raise ValueError(
                    f"table {self.caption!r}, row {i}: {len(row)} cells for {n} columns"
                )
        if self.align and len(self.align) != n:
            raise ValueError(f"table {self.caption!r}: {len(self.align)} alignments for {n}")
        if self.widths and (len(self.widths) != n or min(self.widths) <= 0):
            raise ValueError(f"table {self.caption!r}: widths must be {n} positive numbers")

    def alignments(self) -> tuple[Align, ...]:
        return self.align or ("L",) * len(self.columns)

    def relative_widths(self) -> tuple[float, ...]:
        """Column widths as fractions of the table's width (summing to 1)."""
        w = self.widths or (1.0,) * len(self.columns)
        total = sum(w)
        return tuple(x / total for x in w)


@dataclass(frozen=True)
class Figure:
    """A numbered figure: PNG bytes, a caption (below it) and footnotes. ``alt`` is the text
    alternative for the HTML page (the caption unless given)."""

    caption: str
    png: bytes
    footnotes: tuple[str, ...] = ()
    alt: str = ""

    def __post_init__(self) -> None:
        png_size(self.png)  # refuses what is not a PNG

    @classmethod
    def from_matplotlib(
        cls,
        fig: MplFigure,
        caption: str,
        footnotes: Sequence[str] = (),
        *,
        dpi: int = 150,
        alt: str = "",
    ) -> Figure:
        """The figure as PNG (no software or date stamped in, so same figure, same bytes)."""
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
        return cls(caption, buf.getvalue(), tuple(footnotes), alt)

    @property
    def aspect(self) -> float:
        """Height over width."""
        w, h = png_size(self.png)
        return h / w


@dataclass(frozen=True)
class Signatory:
    """One line of a sign-off block: the role, and, once signed, the printed name, the
    meaning (authored, reviewed, approved) and the date. Empty fields print as lines to be
    filled in by hand."""

    role: str
    printed_name: str = ""
    meaning: str = ""
    signed_at: str = ""

    @property
    def signed(self) -> bool:
        return bool(self.printed_name and self.signed_at)


@dataclass(frozen=True)
class SignOff:
    """The sign-off block: a statement and one line per signatory."""

    signatories: tuple[Signatory, ...]
    statement: str = ""


Block = Paragraph | Table | Figure | SignOff


@dataclass(frozen=True)
class Section:
    heading: str
    blocks: tuple[Block, ...] = ()


@dataclass(frozen=True)
class Document:
    """A whole report. ``anchors`` are printed at the foot of every page (PDF) or in the
    footer (Word), ``marking`` at its head and foot; ``created_at`` is the date written into
    the file (fixed by the caller, so the same content gives the same bytes);
    ``orientation`` is ``P`` (portrait) or ``L`` (landscape)."""

    title: str
    sections: tuple[Section, ...]
    subtitle: str = ""
    marking: str = ""
    version: str = ""
    anchors: tuple[str, ...] = ()
    created_at: datetime = field(default_factory=lambda: datetime(2000, 1, 1, tzinfo=UTC))
    orientation: Literal["P", "L"] = "P"
    author: str = "vein2vein"
    keywords: str = ""

    def __post_init__(self) -> None:
        if self.created_at.tzinfo is None:
            raise ValueError("created_at must be timezone-aware (UTC)")

    def blocks(self) -> Iterator[tuple[Section, Block]]:
        for s in self.sections:
            for b in s.blocks:
                yield s, b

    def tables(self) -> list[Table]:
        return [b for _, b in self.blocks() if isinstance(b, Table)]

    def figures(self) -> list[Figure]:
        return [b for _, b in self.blocks() if isinstance(b, Figure)]


def numbered(doc: Document) -> list[tuple[Section, list[tuple[Block, int]]]]:
    """Every section with its blocks and their numbers: tables and figures each counted from
    1 in document order (``0`` for paragraphs and sign-off blocks)."""
    counts = {"table": 0, "figure": 0}
    out: list[tuple[Section, list[tuple[Block, int]]]] = []
    for s in doc.sections:
        blocks: list[tuple[Block, int]] = []
        for b in s.blocks:
            kind = "table" if isinstance(b, Table) else "figure" if isinstance(b, Figure) else ""
            if kind:
                counts[kind] += 1
            blocks.append((b, counts[kind] if kind else 0))
        out.append((s, blocks))
    return out


def caption_of(block: Table | Figure, number: int) -> str:
    """``Table 3. Batch analyses`` / ``Figure 1. Waterfall plot``."""
    kind = "Table" if isinstance(block, Table) else "Figure"
    return f"{kind} {number}. {block.caption}"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height in pixels of PNG bytes (the IHDR chunk, PNG spec §11.2.2)."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("figure is not a PNG image")
    w, h = struct.unpack(">II", data[16:24])
    if w == 0 or h == 0:
        raise ValueError("figure PNG has no pixels")
    return w, h
