"""Numbered pages of a list a page has already put in order (the orders in flight, worst first):
which slice to show, how many pages there are, and the links to the others keeping the page's
filters. The audit trail pages by sequence instead (``store.audit.page``): its list is too long
to read whole."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import urlencode

T = TypeVar("T")


@dataclass(frozen=True)
class Paged(Generic[T]):
    """One page of ``total`` items: ``items`` are numbers ``first`` to ``last`` (from 1)."""

    items: Sequence[T]
    page: int
    pages: int
    total: int
    size: int
    query: Mapping[str, str]

    @property
    def first(self) -> int:
        return (self.page - 1) * self.size + 1 if self.total else 0

    @property
    def last(self) -> int:
        return self.first + len(self.items) - 1 if self.total else 0

    def link(self, page: int) -> str:
        """The query string of ``page`` with the page's other parameters kept."""
        return "?" + urlencode({**self.query, "page": str(page)})


def paginate(
    items: Sequence[T], page: int, size: int, query: Mapping[str, str] | None = None
) -> Paged[T]:
    """Page ``page`` (from 1) of ``items`` by ``size``; a page number out of range shows the
    nearest page that exists (a list that shrank since its link was made still shows rows).
    ``query`` holds the other parameters the page links keep (empty values are left out)."""
    if size < 1:
        raise ValueError("a page holds at least one item")
    pages = max(1, -(-len(items) // size))
    page = min(max(page, 1), pages)
    start = (page - 1) * size
    kept = {k: v for k, v in (query or {}).items() if v}
    return Paged(items[start : start + size], page, pages, len(items), size, kept)
