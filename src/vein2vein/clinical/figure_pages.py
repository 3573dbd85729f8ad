"""Which figures of the report share a page, and at what size (pure).

A figure page should not be half empty: the old report gave each figure a page of its own, so
every page was about half blank. :func:`pack` puts figures in their order on the fewest pages
on which each can still be printed at ``min_scale`` of its full width or more, and among the
ways to do that picks the one whose smallest figure is largest (then the fullest pages). A
figure's caption and footnote (``fixed``) keep their size; only the image shrinks.

With at most a handful of figures every split into consecutive pages is tried (2^(n-1)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations, pairwise


@dataclass(frozen=True)
class Block:
    """A figure: ``image`` height at full width and the ``fixed`` height of its text (mm)."""

    image: float
    fixed: float


@dataclass(frozen=True)
class Page:
    figures: tuple[int, ...]  # indices into the blocks, in order
    scale: float  # of every image on the page (<= 1)
    used: float  # height used at that scale (mm)


def _page(blocks: Sequence[Block], idx: tuple[int, ...], space: float) -> Page:
    image = sum(blocks[i].image for i in idx)
    fixed = sum(blocks[i].fixed for i in idx)
    scale = 1.0 if image + fixed <= space else max(0.0, (space - fixed) / image)
    return Page(idx, scale, image * scale + fixed)


def pack(blocks: Sequence[Block], space: float, min_scale: float = 0.7) -> list[Page]:
    """Pages of figures, each fitting ``space`` (mm), every image at ``min_scale`` or more
    (a figure that cannot reach it even alone gets a page of its own, scaled to fit)."""
    n = len(blocks)
    if n == 0:
        return []
    best: tuple[tuple[int, float, float], list[Page]] | None = None
    for cuts_n in range(n):
        for cuts in combinations(range(1, n), cuts_n):
            bounds = [0, *cuts, n]
            pages = [_page(blocks, tuple(range(a, b)), space) for a, b in pairwise(bounds)]
            if any(p.scale < min_scale and len(p.figures) > 1 for p in pages):
                continue
            smallest = min(p.scale for p in pages)
            emptiest = min(p.used / space for p in pages)
            key = (-len(pages), smallest, emptiest)
            if best is None or key > best[0]:
                best = (key, pages)
        if best is not None:
            return best[1]
    raise AssertionError("unreachable: one figure per page always fits")
