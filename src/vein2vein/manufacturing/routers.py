"""The manufacturing feature's routers, one for the API and one for pages, each joining its
parts: master batch records (``api``/``web``), material lots and deviations
(``materials_api``/``materials_web``), executed batch records (``batch_api``/``batch_web``, the
tablet's ``execution_web`` and QA's ``review_web``) and genealogy pages (``trace_web``). The
composition root mounts these two."""

from __future__ import annotations

from fastapi import APIRouter

from vein2vein.manufacturing import (
    api,
    batch_api,
    batch_web,
    execution_web,
    materials_api,
    materials_web,
    review_web,
    trace_web,  # genealogy pages (/trace)
    web,
)

api_router = APIRouter()
api_router.include_router(api.router)
api_router.include_router(materials_api.router)
api_router.include_router(batch_api.router)

page_router = APIRouter(include_in_schema=False)
page_router.include_router(web.router)
page_router.include_router(materials_web.router)
page_router.include_router(batch_web.router)
page_router.include_router(trace_web.router)
page_router.include_router(execution_web.router)
page_router.include_router(review_web.router)
