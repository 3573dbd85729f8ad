"""A :class:`~vein2vein.reports.document.Document` as an HTML fragment for a page (Jinja2,
autoescaped): the same numbering and captions as the PDF and the Word file, tables as real
``<table>`` elements with ``<caption>`` and column headers, figures as embedded PNG with their
caption as the text alternative unless the figure gives one. The page that includes the
fragment brings the layout; ``heading_level`` fits the title into the page's outline.
"""

from __future__ import annotations

import base64
from functools import cache
from typing import TYPE_CHECKING

from vein2vein.reports.document import (
    Document,
    Figure,
    Paragraph,
    SignOff,
    Table,
    caption_of,
    numbered,
)

if TYPE_CHECKING:
    from jinja2 import Environment
    from markupsafe import Markup

__all__ = ["render_html"]


@cache
def _env() -> Environment:
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(
        loader=PackageLoader("vein2vein.reports", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _kind(block: object) -> str:
    if isinstance(block, Paragraph):
        return "paragraph"
    if isinstance(block, Table):
        return "table"
    if isinstance(block, Figure):
        return "figure"
    if isinstance(block, SignOff):
        return "signoff"
    raise TypeError(f"not a document block: {type(block).__name__}")


def render_html(doc: Document, *, heading_level: int = 2) -> Markup:
    """The document as an HTML fragment (``<article>``), safe to include in a page."""
    from markupsafe import Markup

    sections = [(s, [(b, n, _kind(b)) for b, n in blocks]) for s, blocks in numbered(doc)]
    html = (
        _env()
        .get_template("document.html")
        .render(
            doc=doc,
            sections=sections,
            level=max(1, min(heading_level, 5)),
            caption=caption_of,
            png=lambda f: base64.b64encode(f.png).decode("ascii"),
        )
    )
    return Markup(html)
