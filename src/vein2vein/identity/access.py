"""Who may do what in the chain of identity, in terms of the roles of ``auth.roles``.

The foundation's permission list has no custody actions yet, so the rules live here, each one
expressed through existing roles and permissions (documented in docs/identity.md). Tenant scope is
always checked first by the caller (``get_scoped``), so a refusal here never reveals another
client's record.

- read orders, patients (subject id only), timelines: every role holding ``program.read``;
- enrol patients and place orders: the sponsor's ``sponsor_clinical`` users for their own
  organisation, and the CDMO ``admin`` (order desk) for any client;
- issue DINs and register final-product bags: CDMO ``operator``, ``qa_reviewer``,
  ``qa_approver``, ``admin``;
- custody steps at the treatment site (collection to shipment, receipt of the product to
  infusion): ``sponsor_clinical`` of the sponsor (the site's staff);
- custody steps at the manufacturer: CDMO ``operator``, ``qa_reviewer``, ``qa_approver``;
  ``released`` only by a role that may sign *released* (``qa_approver``);
- clear a hand-off mismatch: CDMO QA (``qa_reviewer``, ``qa_approver``: roles that sign
  *reviewed*);
- date of birth and initials: roles holding ``personal_data.read`` (CDMO QA) only.
"""

from __future__ import annotations

from typing import Final

from vein2vein.auth.roles import Perm, Role
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

_CDMO_HANDS: Final = frozenset({Role.OPERATOR, Role.QA_REVIEWER, Role.QA_APPROVER})
_DIN_ISSUERS: Final = _CDMO_HANDS | {Role.ADMIN}


def _deny(scope: Scope, what: str) -> PermissionDenied:
    return PermissionDenied(f"your role ({scope.role}) may not {what}")


def can_read(scope: Scope) -> bool:
    return scope.can(Perm.PROGRAM_READ)


def require_read(scope: Scope) -> None:
    scope.require(Perm.PROGRAM_READ)


def can_order(scope: Scope) -> bool:
    if scope.is_cdmo:
        return scope.can(Perm.PROGRAM_MANAGE)
    return scope.role == Role.SPONSOR_CLINICAL


def require_order(scope: Scope) -> None:
    if not can_order(scope):
        raise _deny(scope, "enrol patients or place orders")


def can_issue(scope: Scope) -> bool:
    return scope.is_cdmo and scope.role in _DIN_ISSUERS


def require_issue(scope: Scope) -> None:
    if not can_issue(scope):
        raise _deny(scope, "issue DINs or register final-product bags")


def can_record(scope: Scope, step: Step) -> bool:
    if step is Step.RELEASED:
        return scope.is_cdmo and scope.can(Perm.SIGN_RELEASED)
    if step in SITE_STEPS:
        return not scope.is_cdmo and scope.role == Role.SPONSOR_CLINICAL
    return scope.is_cdmo and scope.role in _CDMO_HANDS


def require_record(scope: Scope, step: Step) -> None:
    if not can_record(scope, step):
        raise _deny(scope, f"record '{step.value}' ({step.text})")


def can_clear(scope: Scope) -> bool:
    return scope.is_cdmo and scope.can(Perm.SIGN_REVIEWED)


def require_clear(scope: Scope) -> None:
    if not can_clear(scope):
        raise _deny(scope, "clear a hand-off mismatch (CDMO QA only)")


def sees_personal_data(scope: Scope) -> bool:
    return scope.can(Perm.PERSONAL_DATA_READ)
