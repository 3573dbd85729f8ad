"""``web.app.api_routes`` finds the routes of included routers (FastAPI keeps an included
router as one entry): before it, the route checks (tenant isolation, permissions, form fuzz) and
the upload limit never saw the manufacturing routes, which its composition includes."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Depends

from vein2vein.web.app import api_routes


def _router(*paths: str) -> APIRouter:
    r = APIRouter()
    for path in paths:
        r.add_api_route(path, lambda: None, methods=["GET"])
    return r


def test_routes_of_included_routers_are_found_at_any_depth() -> None:
    inner, middle, outer = _router("/a", "/b"), _router("/c"), _router("/d")
    middle.include_router(inner)
    outer.include_router(middle)
    assert sorted(r.path for r in api_routes(outer)) == ["/a", "/b", "/c", "/d"]


@pytest.mark.parametrize("extra", [{"prefix": "/x"}, {"dependencies": [Depends(lambda: None)]}])
def test_an_inclusion_with_its_own_prefix_or_dependencies_is_refused(extra: dict) -> None:
    outer = APIRouter()
    outer.include_router(_router("/a"), **extra)
    with pytest.raises(RuntimeError, match="prefix or dependencies"):
        list(api_routes(outer))


def test_an_inclusion_into_a_router_with_a_prefix_is_refused() -> None:
    outer = APIRouter(prefix="/api")
    outer.include_router(_router("/a"))
    with pytest.raises(RuntimeError, match="of the router including it"):
        list(api_routes(outer))
