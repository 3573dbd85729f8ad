"""Demo records of the insights feature, loaded after the identity, manufacturing, quality and
clinical demos (``features.py`` declares insights after them): each part's loader in turn, in
the demo's one unit of work."""

from __future__ import annotations

import importlib

from vein2vein.demo.context import DemoContext
from vein2vein.store.uow import UnitOfWork

#: ``module:function`` of each part's demo loader, called as ``loader(uow, ctx)`` in this order
PARTS: tuple[str, ...] = (
    "comparability_demo:load_comparability_demo",
    "outcome_demo:load_outcome_demo",
    "cpv_demo:load_cpv_demo",
)


def load_insights_demo(uow: UnitOfWork, ctx: DemoContext) -> None:
    for target in PARTS:
        module, _, name = target.partition(":")
        getattr(importlib.import_module(f"vein2vein.insights.{module}"), name)(uow, ctx)
