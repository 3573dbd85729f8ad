"""Roles and the permissions each one holds (one permission per action, checked on every route)."""

from __future__ import annotations

from enum import StrEnum


class OrgKind(StrEnum):
    CDMO = "CDMO"
    SPONSOR = "SPONSOR"


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    QC_ANALYST = "qc_analyst"
    QA_REVIEWER = "qa_reviewer"
    QA_APPROVER = "qa_approver"
    SPONSOR_VIEWER = "sponsor_viewer"
    SPONSOR_CLINICAL = "sponsor_clinical"


class Perm(StrEnum):
    ORG_READ = "org.read"
    ORG_MANAGE = "org.manage"
    USER_READ = "user.read"
    USER_MANAGE = "user.manage"
    AUDIT_READ = "audit.read"
    AUDIT_VERIFY = "audit.verify"
    AUDIT_REVIEW = "audit.review"
    PROGRAM_READ = "program.read"
    PROGRAM_MANAGE = "program.manage"
    PERSONAL_DATA_READ = "personal_data.read"
    CLINICAL_WRITE = "clinical.write"
    SIGN_AUTHORED = "sign.authored"
    SIGN_REVIEWED = "sign.reviewed"
    SIGN_APPROVED = "sign.approved"
    SIGN_RELEASED = "sign.released"


ROLE_KIND: dict[Role, OrgKind] = {
    Role.ADMIN: OrgKind.CDMO,
    Role.OPERATOR: OrgKind.CDMO,
    Role.QC_ANALYST: OrgKind.CDMO,
    Role.QA_REVIEWER: OrgKind.CDMO,
    Role.QA_APPROVER: OrgKind.CDMO,
    Role.SPONSOR_VIEWER: OrgKind.SPONSOR,
    Role.SPONSOR_CLINICAL: OrgKind.SPONSOR,
}

_EVERY_CDMO_ROLE = {Perm.ORG_READ, Perm.PROGRAM_READ, Perm.USER_READ}

ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.ADMIN: frozenset(
        _EVERY_CDMO_ROLE
        | {
            Perm.ORG_MANAGE,
            Perm.USER_MANAGE,
            Perm.AUDIT_READ,
            Perm.AUDIT_VERIFY,
            Perm.PROGRAM_MANAGE,
            Perm.SIGN_AUTHORED,
        }
    ),
    Role.OPERATOR: frozenset(_EVERY_CDMO_ROLE | {Perm.SIGN_AUTHORED}),
    Role.QC_ANALYST: frozenset(_EVERY_CDMO_ROLE | {Perm.SIGN_AUTHORED}),
    Role.QA_REVIEWER: frozenset(
        _EVERY_CDMO_ROLE
        | {
            Perm.AUDIT_READ,
            Perm.AUDIT_VERIFY,
            Perm.AUDIT_REVIEW,
            Perm.PERSONAL_DATA_READ,
            Perm.SIGN_AUTHORED,
            Perm.SIGN_REVIEWED,
        }
    ),
    Role.QA_APPROVER: frozenset(
        _EVERY_CDMO_ROLE
        | {
            Perm.AUDIT_READ,
            Perm.AUDIT_VERIFY,
            Perm.AUDIT_REVIEW,
            Perm.PERSONAL_DATA_READ,
            Perm.SIGN_AUTHORED,
            Perm.SIGN_REVIEWED,
            Perm.SIGN_APPROVED,
            Perm.SIGN_RELEASED,
        }
    ),
    Role.SPONSOR_VIEWER: frozenset({Perm.ORG_READ, Perm.PROGRAM_READ}),
    Role.SPONSOR_CLINICAL: frozenset(
        {
            Perm.ORG_READ,
            Perm.PROGRAM_READ,
            Perm.USER_READ,
            Perm.AUDIT_READ,
            Perm.CLINICAL_WRITE,
            Perm.SIGN_AUTHORED,
            Perm.SIGN_APPROVED,
        }
    ),
}


class Meaning(StrEnum):
    """Meaning of an electronic signature (21 CFR 11.50(a)(3))."""

    AUTHORED = "authored"
    REVIEWED = "reviewed"
    APPROVED = "approved"
    RELEASED = "released"


MEANING_PERMISSION: dict[Meaning, Perm] = {
    Meaning.AUTHORED: Perm.SIGN_AUTHORED,
    Meaning.REVIEWED: Perm.SIGN_REVIEWED,
    Meaning.APPROVED: Perm.SIGN_APPROVED,
    Meaning.RELEASED: Perm.SIGN_RELEASED,
}


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        known = ", ".join(r.value for r in Role)
        from vein2vein.core.errors import InputError

        raise InputError(f"unknown role '{value}'; known roles: {known}", field="role") from None


def parse_kind(value: str) -> OrgKind:
    try:
        return OrgKind(value.strip().upper())
    except ValueError:
        from vein2vein.core.errors import InputError

        raise InputError(
            f"unknown organisation kind '{value}'; use CDMO or SPONSOR", field="kind"
        ) from None


def has_permission(role: str, perm: Perm) -> bool:
    try:
        return perm in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False
