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
    # chain of identity
    ORDER_PLACE = "order.place"
    DIN_ISSUE = "din.issue"
    CUSTODY_RECORD = "custody.record"
    CUSTODY_RECORD_SITE = "custody.record_site"
    CUSTODY_RECORD_CDMO = "custody.record_cdmo"
    CUSTODY_RELEASE = "custody.release"
    MISMATCH_CLEAR = "mismatch.clear"
    # capacity scheduling
    PLAN_READ = "plan.read"
    PLAN_MANAGE = "plan.manage"
    # master batch records
    MBR_READ = "mbr.read"
    MBR_AUTHOR = "mbr.author"
    MBR_REVIEW = "mbr.review"
    MBR_APPROVE = "mbr.approve"
    # material lots and deviations
    LOT_READ = "lot.read"
    LOT_RECEIVE = "lot.receive"
    LOT_RELEASE = "lot.release"
    DEVIATION_READ = "deviation.read"
    DEVIATION_OPEN = "deviation.open"
    DEVIATION_MANAGE = "deviation.manage"
    # executed batch records
    BATCH_READ = "batch.read"
    BATCH_EXECUTE = "batch.execute"
    BATCH_VERIFY = "batch.verify"
    BATCH_APPROVE = "batch.approve"
    # QC release (issue 13)
    QC_READ = "qc.read"
    QC_RESULT_ENTER = "qc.result_enter"
    SPEC_AUTHOR = "spec.author"
    SPEC_APPROVE = "spec.approve"
    OOS_MANAGE = "oos.manage"
    BATCH_RELEASE = "batch.release"
    # product and outcome (issue 14)
    OUTCOME_READ = "outcome.read"
    OUTCOME_LINK = "outcome.link"
    # continued process verification (issue 14)
    CPV_FREEZE = "cpv.freeze"
    # comparability on stored batches (issue 14)
    COMPARABILITY_READ = "comparability.read"
    COMPARABILITY_AUTHOR = "comparability.author"
    COMPARABILITY_APPROVE = "comparability.approve"
    # signed clinical readout report (issue 14)
    CLINICAL_REPORT_SIGN = "clinical.report_sign"


ROLE_KIND: dict[Role, OrgKind] = {
    Role.ADMIN: OrgKind.CDMO,
    Role.OPERATOR: OrgKind.CDMO,
    Role.QC_ANALYST: OrgKind.CDMO,
    Role.QA_REVIEWER: OrgKind.CDMO,
    Role.QA_APPROVER: OrgKind.CDMO,
    Role.SPONSOR_VIEWER: OrgKind.SPONSOR,
    Role.SPONSOR_CLINICAL: OrgKind.SPONSOR,
}

_EVERY_CDMO_ROLE = {
    Perm.ORG_READ,
    Perm.PROGRAM_READ,
    Perm.USER_READ,
    Perm.PLAN_READ,
    Perm.MBR_READ,
    Perm.LOT_READ,
    Perm.DEVIATION_READ,
    Perm.BATCH_READ,
    Perm.QC_READ,
    Perm.COMPARABILITY_READ,
}
#: CDMO staff who handle material (custody steps at the manufacturer, DINs, lots received) and
#: open deviations they see
_CDMO_HANDS = {
    Perm.DIN_ISSUE,
    Perm.CUSTODY_RECORD,
    Perm.CUSTODY_RECORD_CDMO,
    Perm.LOT_RECEIVE,
    Perm.DEVIATION_OPEN,
}
#: CDMO QA: clears hand-off mismatches, keeps the capacity plan, decides lots, closes deviations
_CDMO_QA = {Perm.MISMATCH_CLEAR, Perm.PLAN_MANAGE, Perm.LOT_RELEASE, Perm.DEVIATION_MANAGE}

#: Separation of duties: what the administrator (IT) may never hold, however the table above
#: changes — recording what happened to a patient's material is not an IT task (EU GMP Annex 11
#: §12.1-12.2, 21 CFR 211.68(b): access by role; PIC/S PI 041 §9: administrators do not
#: create or change GMP data). ``tests/unit/auth/test_separation_of_duties.py`` checks it.
NOT_FOR_ADMINISTRATORS: frozenset[Perm] = frozenset(
    {
        Perm.CUSTODY_RECORD,
        Perm.CUSTODY_RECORD_SITE,
        Perm.CUSTODY_RECORD_CDMO,
        Perm.CUSTODY_RELEASE,
        Perm.MISMATCH_CLEAR,
        Perm.LOT_RECEIVE,
        Perm.LOT_RELEASE,
        Perm.DEVIATION_MANAGE,
        Perm.BATCH_EXECUTE,
        Perm.BATCH_VERIFY,
        Perm.BATCH_APPROVE,
        Perm.QC_RESULT_ENTER,
        Perm.SPEC_APPROVE,
        Perm.OOS_MANAGE,
        Perm.BATCH_RELEASE,
        Perm.CPV_FREEZE,
        Perm.COMPARABILITY_APPROVE,
    }
)

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
            Perm.ORDER_PLACE,
            Perm.DIN_ISSUE,
            Perm.CLINICAL_WRITE,
            Perm.PLAN_MANAGE,
            Perm.OUTCOME_READ,
            Perm.OUTCOME_LINK,
        }
    ),
    Role.OPERATOR: frozenset(
        _EVERY_CDMO_ROLE
        | _CDMO_HANDS
        | {Perm.SIGN_AUTHORED, Perm.MBR_AUTHOR, Perm.BATCH_EXECUTE, Perm.BATCH_VERIFY}
    ),
    Role.QC_ANALYST: frozenset(
        _EVERY_CDMO_ROLE
        | {Perm.SIGN_AUTHORED, Perm.QC_RESULT_ENTER, Perm.SPEC_AUTHOR}
        | {Perm.COMPARABILITY_AUTHOR}
    ),
    Role.QA_REVIEWER: frozenset(
        _EVERY_CDMO_ROLE
        | _CDMO_HANDS
        | _CDMO_QA
        | {
            Perm.AUDIT_READ,
            Perm.AUDIT_VERIFY,
            Perm.AUDIT_REVIEW,
            Perm.PERSONAL_DATA_READ,
            Perm.SIGN_AUTHORED,
            Perm.SIGN_REVIEWED,
            Perm.MBR_AUTHOR,
            Perm.MBR_REVIEW,
            Perm.BATCH_VERIFY,
            Perm.SPEC_AUTHOR,
            Perm.OOS_MANAGE,
            Perm.OUTCOME_READ,
            Perm.COMPARABILITY_AUTHOR,
        }
    ),
    Role.QA_APPROVER: frozenset(
        _EVERY_CDMO_ROLE
        | _CDMO_HANDS
        | _CDMO_QA
        | {
            Perm.AUDIT_READ,
            Perm.AUDIT_VERIFY,
            Perm.AUDIT_REVIEW,
            Perm.PERSONAL_DATA_READ,
            Perm.SIGN_AUTHORED,
            Perm.SIGN_REVIEWED,
            Perm.SIGN_APPROVED,
            Perm.SIGN_RELEASED,
            Perm.CUSTODY_RELEASE,
            Perm.MBR_AUTHOR,
            Perm.MBR_REVIEW,
            Perm.MBR_APPROVE,
            Perm.BATCH_VERIFY,
            Perm.BATCH_APPROVE,
            Perm.SPEC_AUTHOR,
            Perm.SPEC_APPROVE,
            Perm.OOS_MANAGE,
            Perm.BATCH_RELEASE,
            Perm.OUTCOME_READ,
            Perm.CPV_FREEZE,
            Perm.COMPARABILITY_AUTHOR,
            Perm.COMPARABILITY_APPROVE,
        }
    ),
    Role.SPONSOR_VIEWER: frozenset(
        {
            Perm.ORG_READ,
            Perm.PROGRAM_READ,
            Perm.MBR_READ,
            Perm.DEVIATION_READ,
            Perm.BATCH_READ,
            Perm.QC_READ,
            Perm.COMPARABILITY_READ,
        }
    ),
    Role.SPONSOR_CLINICAL: frozenset(
        {
            Perm.ORG_READ,
            Perm.PROGRAM_READ,
            Perm.DEVIATION_READ,
            Perm.USER_READ,
            Perm.AUDIT_READ,
            Perm.CLINICAL_WRITE,
            Perm.SIGN_AUTHORED,
            Perm.SIGN_APPROVED,
            Perm.ORDER_PLACE,
            Perm.CUSTODY_RECORD,
            Perm.CUSTODY_RECORD_SITE,
            Perm.MBR_READ,
            Perm.BATCH_READ,
            Perm.QC_READ,
            Perm.OUTCOME_READ,
            Perm.OUTCOME_LINK,
            Perm.COMPARABILITY_READ,
            Perm.CLINICAL_REPORT_SIGN,
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


#: What each permission lets its holder do (the rows of the generated matrix in docs/security.md).
PERM_TEXT: dict[Perm, str] = {
    Perm.ORG_READ: "read organisations and sites in scope",
    Perm.ORG_MANAGE: "create organisations and sites",
    Perm.USER_READ: "read user accounts in scope",
    Perm.USER_MANAGE: "create users, reset passwords, unlock, deactivate, issue tokens",
    Perm.AUDIT_READ: "read the audit trail in scope",
    Perm.AUDIT_VERIFY: "verify the audit chain",
    Perm.AUDIT_REVIEW: "start and sign audit-trail reviews",
    Perm.PROGRAM_READ: "read programs, orders, studies, plan slots in scope",
    Perm.PROGRAM_MANAGE: "create and change programs",
    Perm.PERSONAL_DATA_READ: "see a patient's date of birth and initials",
    Perm.CLINICAL_WRITE: "create studies and upload clinical datasets",
    Perm.SIGN_AUTHORED: "sign as author",
    Perm.SIGN_REVIEWED: "sign as reviewer",
    Perm.SIGN_APPROVED: "sign as approver",
    Perm.SIGN_RELEASED: "sign a release",
    Perm.ORDER_PLACE: "enrol patients and place orders",
    Perm.DIN_ISSUE: "issue DINs and register final-product bags",
    Perm.CUSTODY_RECORD: "record custody hand-offs (which steps: the two rows below)",
    Perm.CUSTODY_RECORD_SITE: "record the treatment site's custody steps (collection, infusion)",
    Perm.CUSTODY_RECORD_CDMO: "record the manufacturer's custody steps (receipt to shipment)",
    Perm.CUSTODY_RELEASE: "record the release custody step",
    Perm.MISMATCH_CLEAR: "clear a hand-off mismatch",
    Perm.PLAN_READ: "read the whole capacity plan (suites, Gantt, drafts)",
    Perm.PLAN_MANAGE: "change suites and settings, compute and publish plans",
    Perm.MBR_READ: "read master batch records (sponsors: of their own programs)",
    Perm.MBR_AUTHOR: "import and edit draft master batch records, sign them as author",
    Perm.MBR_REVIEW: "sign a master batch record as reviewer",
    Perm.MBR_APPROVE: "sign a master batch record as approver (makes it effective)",
    Perm.LOT_READ: "read materials and their lots (the CDMO's own)",
    Perm.LOT_RECEIVE: "receive material lots into quarantine, record a vector's titer",
    Perm.LOT_RELEASE: "release or reject lots, define materials",
    Perm.DEVIATION_READ: "read deviations in scope (a sponsor: those of its own orders)",
    Perm.DEVIATION_OPEN: "open a deviation by hand",
    Perm.DEVIATION_MANAGE: "classify deviations, record root cause and CAPA, close (signed)",
    Perm.BATCH_READ: "read batch records (a sponsor: the status of its own orders' batches)",
    Perm.BATCH_EXECUTE: "create batch records, start, enter, correct, scan lots, sign off steps",
    Perm.BATCH_VERIFY: "verify another person's entry or lot scan (second person)",
    Perm.BATCH_APPROVE: "decide QA holds, approve a batch record with a signature (locks it)",
    Perm.QC_READ: "read specifications, QC results, investigations, releases and certificates",
    Perm.QC_RESULT_ENTER: "enter and import QC results (judged against the specification)",
    Perm.SPEC_AUTHOR: "write a specification version (a draft)",
    Perm.SPEC_APPROVE: "approve a specification version with a signature (makes it effective)",
    Perm.OOS_MANAGE: "run out-of-specification investigations (phase I and II)",
    Perm.BATCH_RELEASE: "release or reject a batch with a signature; sign exceptional releases",
    Perm.OUTCOME_READ: "see product attributes beside clinical outcome (a sponsor: its studies)",
    Perm.OUTCOME_LINK: "link a clinical subject to its order by chain-of-identity id, unlink",
    Perm.CPV_FREEZE: "freeze a CPV control-chart baseline with a signature (supersedes the last)",
    Perm.COMPARABILITY_READ: "read comparability protocols and, once approved, their reports",
    Perm.COMPARABILITY_AUTHOR: "write and sign (authored) comparability protocols; run them",
    Perm.COMPARABILITY_APPROVE: "approve a comparability protocol version with a signature",
    Perm.CLINICAL_REPORT_SIGN: "sign a readout report version as a named steering-committee member",
}


def permission_matrix_markdown() -> str:
    """The role x permission table, generated from ``ROLE_PERMISSIONS`` (docs/security.md)."""
    roles = list(Role)
    head = "| permission | what it allows | " + " | ".join(r.value for r in roles) + " |"
    rule = "|---|---|" + "|".join(":-:" for _ in roles) + "|"
    rows = [
        f"| `{p.value}` | {PERM_TEXT[p]} | "
        + " | ".join("✓" if p in ROLE_PERMISSIONS[r] else "" for r in roles)
        + " |"
        for p in Perm
    ]
    return "\n".join([head, rule, *rows])


def has_permission(role: str, perm: Perm) -> bool:
    try:
        return perm in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False
