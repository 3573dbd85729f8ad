"""Who may do what with clinical studies: each rule is one permission of ``auth.roles.Perm``.

The roles table (``auth.roles.ROLE_PERMISSIONS``) is the only place that grants them. Tenant
scope is always checked first (``get_scoped``), so a refusal here never reveals another
sponsor's study.

| action                                                  | permission        |
|---------------------------------------------------------|-------------------|
| list studies, see a study, its versions and raw files   | ``program.read``  |
| compute a readout, export a report                      | ``program.read``  |
| create a study, change its settings, upload a version   | ``clinical.write``|
| see a study's audit history on its page                 | ``audit.read``    |

``clinical.write`` is held by the sponsor's ``sponsor_clinical`` users and by CDMO
administrators (e.g. to load a sponsor's data on their behalf).
"""

from __future__ import annotations

from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope
from vein2vein.core.errors import PermissionDenied


def can_read(scope: Scope) -> bool:
    return scope.can(Perm.PROGRAM_READ)


def require_read(scope: Scope) -> None:
    scope.require(Perm.PROGRAM_READ)


def can_write(scope: Scope) -> bool:
    return scope.can(Perm.CLINICAL_WRITE)


def require_write(scope: Scope) -> None:
    if not can_write(scope):
        raise PermissionDenied(
            f"your role ({scope.role}) may not change clinical studies "
            "(sponsor_clinical of the sponsor, or a CDMO administrator)"
        )


def can_see_history(scope: Scope) -> bool:
    return scope.can(Perm.AUDIT_READ)
