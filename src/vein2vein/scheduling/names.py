"""Human names of the CDMO's planning records for the audit trail (``auth/names.py``); they
belong to the CDMO, so a sponsor's user gets none."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.orm import Session

from vein2vein.auth.names import Labels, Ref, scoped_labels
from vein2vein.auth.scope import Scope
from vein2vein.scheduling.tables import (
    Downtime,
    LabSettings,
    PlanDraft,
    ProductSettings,
    PublishedPlan,
    Suite,
)


def entity_labels(session: Session, scope: Scope, refs: Collection[Ref]) -> Labels:
    """Suites, their down-times, product and laboratory settings, drafts and plans."""

    def suite(code: str, name: str) -> str:
        return f"Suite {code}" + (f": {name}" if name else "")

    def product(code: str, name: str) -> str:
        return f"Product {code}" + (f": {name}" if name else "")

    out = scoped_labels(session, scope, refs, "sched_suite", Suite, suite, Suite.code, Suite.name)
    out |= scoped_labels(
        session,
        scope,
        refs,
        "sched_downtime",
        Downtime,
        lambda code: f"Down-time of suite {code}",
        Suite.code,
        owner=Suite,
    )
    out |= scoped_labels(
        session,
        scope,
        refs,
        "sched_product",
        ProductSettings,
        product,
        ProductSettings.product_code,
        ProductSettings.name,
    )
    out |= scoped_labels(
        session,
        scope,
        refs,
        "sched_lab",
        LabSettings,
        lambda: "QC laboratory settings",
    )
    out |= scoped_labels(
        session,
        scope,
        refs,
        "sched_plan",
        PublishedPlan,
        lambda version: f"Published plan version {version}",
        PublishedPlan.version,
    )
    out |= scoped_labels(session, scope, refs, "sched_plan_draft", PlanDraft, lambda: "Plan draft")
    return out
