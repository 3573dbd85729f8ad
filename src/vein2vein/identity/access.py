"""Who may do what in the chain of identity: each rule is one permission of ``auth.roles.Perm``.

The roles table (``auth.roles.ROLE_PERMISSIONS``) is the only place that grants them; the matrix
is generated into docs/security.md. Tenant scope is always checked first by the caller
(``get_scoped``), so a refusal here never reveals another client's record.

- read orders, patients (subject id only), timelines: ``program.read``;
- enrol patients, place orders: ``order.place`` (``sponsor_clinical`` for their own
  organisation, the CDMO ``admin`` as order desk);
- issue DINs, register final-product bags: ``din.issue`` (CDMO ``operator``, QA, ``admin``);
- custody steps at the treatment site (collection to shipment, product receipt to infusion):
  ``custody.record_site`` (``sponsor_clinical``, the site's staff);
- custody steps at the manufacturer: ``custody.record_cdmo`` (CDMO ``operator`` and QA);
- the ``released`` step: ``custody.release`` (``qa_approver``);
- clear a hand-off mismatch: ``mismatch.clear`` (CDMO QA);
- date of birth and initials: ``personal_data.read`` (CDMO QA).
"""

from __future__ import annotations

from typing import Final

from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope
from vein2vein.core.errors import PermissionDenied
from vein2vein.identity.domain import Step

#: Steps performed at the treatment site (by the sponsor's site staff).
SITE_STEPS: Final = frozenset(
    {
        Step.COLLECTED,
        Step.PACKED,
        Step.SHIPPED,
        Step.PRODUCT_RECEIVED,
        Step.PRODUCT_STORED,
        Step.ISSUED,
        Step.THAWED,
        Step.INFUSED,
    }
)
#: Steps performed at the manufacturer (by CDMO staff).
CDMO_STEPS: Final = frozenset(Step) - SITE_STEPS


def _deny(scope: Scope, what: str) -> PermissionDenied:
    return PermissionDenied(f"your role ({scope.role}) may not {what}")


def can_read(scope: Scope) -> bool:
    return scope.can(Perm.PROGRAM_READ)


def require_read(scope: Scope) -> None:
    scope.require(Perm.PROGRAM_READ)


def can_order(scope: Scope) -> bool:
    return scope.can(Perm.ORDER_PLACE)


def require_order(scope: Scope) -> None:
    if not can_order(scope):
        raise _deny(scope, "enrol patients or place orders")


def can_issue(scope: Scope) -> bool:
    return scope.can(Perm.DIN_ISSUE)


def require_issue(scope: Scope) -> None:
    if not can_issue(scope):
        raise _deny(scope, "issue DINs or register final-product bags")


def can_record(scope: Scope, step: Step) -> bool:
    if step is Step.RELEASED:
        return scope.can(Perm.CUSTODY_RELEASE)
    if step in SITE_STEPS:
        return scope.can(Perm.CUSTODY_RECORD_SITE)
    return scope.can(Perm.CUSTODY_RECORD_CDMO)


def require_record(scope: Scope, step: Step) -> None:
    if not can_record(scope, step):
        raise _deny(scope, f"record '{step.value}' ({step.text})")


def can_clear(scope: Scope) -> bool:
    return scope.can(Perm.MISMATCH_CLEAR)


def require_clear(scope: Scope) -> None:
    if not can_clear(scope):
        raise _deny(scope, "clear a hand-off mismatch (CDMO QA only)")


def sees_personal_data(scope: Scope) -> bool:
    return scope.can(Perm.PERSONAL_DATA_READ)
