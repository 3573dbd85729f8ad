"""The insights feature's routers, one for the API and one for pages, each joining its parts
(comparability, CPV, product and outcome, CTD tables). The composition root mounts these two.

The parts' routes are added to these two routers themselves, not through ``include_router``:
FastAPI 0.165 keeps an included router as one ``_IncludedRouter`` entry, whose routes
``web.app.registered_routes`` (and so the tenant-isolation, route-permission and form-fuzz
tests) and ``upload_paths`` do not see."""

from __future__ import annotations

from fastapi import APIRouter

from vein2vein.insights import (
    comparability_api,
    comparability_web,
    cpv_api,
    cpv_web,
    ctd_api,
    ctd_web,
    outcome_api,
    outcome_web,
)

api_router = APIRouter()
page_router = APIRouter(include_in_schema=False)

PARTS = (
    (comparability_api, comparability_web),
    (ctd_api, ctd_web),
    (outcome_api, outcome_web),
    (cpv_api, cpv_web),
)
for part_api, part_web in PARTS:
    api_router.routes.extend(part_api.router.routes)
    page_router.routes.extend(part_web.router.routes)
