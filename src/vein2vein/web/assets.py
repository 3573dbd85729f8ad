"""Front-end libraries served from the installed Python packages (no CDN: sites run offline)."""

from __future__ import annotations

from functools import lru_cache

from fastapi import APIRouter
from starlette.responses import Response

from vein2vein.web.context import public

router = APIRouter(include_in_schema=False)
LONG_CACHE = {"Cache-Control": "public, max-age=31536000, immutable"}


@lru_cache(maxsize=1)
def _plotly_js() -> bytes:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().encode("utf-8")


def plotly_version() -> str:
    import plotly

    return str(plotly.__version__)


@router.get("/assets/plotly.min.js", dependencies=[public()])
def plotly_js() -> Response:
    """plotly.js as shipped inside the pinned plotly Python package."""
    return Response(_plotly_js(), media_type="text/javascript", headers=LONG_CACHE)
