"""Who may do what with the capacity plan: each rule is one permission of ``auth.roles.Perm``.

- read the whole plan (suites, Gantt, orders at risk, history, drafts): ``plan.read``, held by
  every CDMO role;
- a sponsor's users read the slots of **their own** orders in the latest published plan only
  (tenant scope; suites, other clients' orders and suite loads are never shown to them);
- manage suites, downtime, product and laboratory settings, compute plans and what-if
  previews, and publish a plan: ``plan.manage``, held by the CDMO planners (``admin``,
  ``qa_reviewer``, ``qa_approver``). Operators and QC analysts read.

Tenant scope is checked first by the caller, so a refusal here never reveals another client's
record: CDMO-owned scheduling records are *not found* for sponsors.
"""

from __future__ import annotations

from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope
from vein2vein.core.errors import PermissionDenied


def can_read_plan(scope: Scope) -> bool:
    return scope.can(Perm.PLAN_READ)


def require_read_plan(scope: Scope) -> None:
    """The whole plan is the CDMO's; a sponsor reads their own orders' slots instead."""
    if not can_read_plan(scope):
        raise PermissionDenied(
            "the capacity plan is the CDMO's: sponsors see the slots of their own orders"
        )


def can_plan(scope: Scope) -> bool:
    return scope.can(Perm.PLAN_MANAGE)


def require_plan(scope: Scope) -> None:
    require_read_plan(scope)
    if not can_plan(scope):
        raise PermissionDenied(
            f"your role ({scope.role}) may not change suites, settings or plans "
            "(CDMO admin and QA only)"
        )
