"""The insights feature's routers, one for the API and one for pages, each joining its parts
(comparability, CPV, product and outcome, CTD tables). The composition root mounts these two."""

from __future__ import annotations

from fastapi import APIRouter

from vein2vein.insights import comparability_api, comparability_web

api_router = APIRouter()
page_router = APIRouter(include_in_schema=False)
api_router.include_router(comparability_api.router)
page_router.include_router(comparability_web.router)

# CTD tables (ctd_api, ctd_web)
from vein2vein.insights import ctd_api, ctd_web  # noqa: E402

api_router.include_router(ctd_api.router)
page_router.include_router(ctd_web.router)
