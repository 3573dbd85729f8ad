"""Numbered pages of an ordered list (web/paging.py): slices, counts, out-of-range pages and the
links that keep the page's filters."""

from __future__ import annotations

import pytest

from vein2vein.web.paging import paginate


def test_pages_cover_the_list_once_in_order() -> None:
    items = list(range(1, 124))
    pages = [paginate(items, n, 50) for n in (1, 2, 3)]
    assert [(p.first, p.last, p.pages, p.total) for p in pages] == [
        (1, 50, 3, 123),
        (51, 100, 3, 123),
        (101, 123, 3, 123),
    ]
    assert [i for p in pages for i in p.items] == items


@pytest.mark.parametrize(("asked", "shown"), [(0, 1), (-4, 1), (3, 3), (99, 3)])
def test_a_page_out_of_range_shows_the_nearest(asked: int, shown: int) -> None:
    assert paginate(list(range(101)), asked, 50).page == shown


def test_an_empty_list_is_one_empty_page() -> None:
    p = paginate([], 7, 50)
    assert (p.page, p.pages, p.total, p.first, p.last, list(p.items)) == (1, 1, 0, 0, 0, [])


def test_links_keep_the_filters_and_drop_empty_ones() -> None:
    p = paginate(list(range(10)), 1, 3, {"q": "HLX 0011", "state": "", "all": "1"})
    assert p.link(2) == "?q=HLX+0011&all=1&page=2"


def test_a_page_holds_at_least_one_item() -> None:
    with pytest.raises(ValueError, match="at least one"):
        paginate([1], 1, 0)
