"""The composition root: every feature of vein2vein declared once.

A feature is a package under ``vein2vein`` (``identity``, ``clinical``, ...). Its declaration says
which of the usual pieces it has: ORM tables, API router, page router, navigation entries, CLI
sub-apps, templates, demo loader, and the permissions (from ``auth.roles.Perm``) its actions
need. The kits (``web``, ``cli``, ``store``'s Alembic environment, templating and the demo) read
this list and import nothing of a feature themselves; adding a feature is one entry in
``FEATURES`` (see ``docs/architecture.md``, "Adding a feature").

Pieces are named by ``"module:attribute"`` relative to the feature's package and imported only
when asked for, so that ``v2v --help`` does not load what it does not use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vein2vein.auth.roles import Perm
from vein2vein.web.nav import NavItem

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter, FastAPI
    from sqlalchemy import MetaData
    from sqlalchemy.orm import Session

    from vein2vein.auth.scope import Scope
    from vein2vein.core.settings import Settings
    from vein2vein.store.database import Database

PACKAGE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class CliMount:
    """A sub-app of ``v2v``: ``name`` is the sub-command, ``target`` its ``module:attribute``,
    ``help`` the line ``v2v --help`` shows without loading it (a test keeps it equal to the
    sub-app's own)."""

    name: str
    target: str
    help: str


@dataclass(frozen=True)
class Feature:
    """What one feature contributes to the application; every field is optional.

    ``labels`` names the records of the feature for the audit trail: a function
    ``(session, scope, refs) -> {(entity_type, entity_id): name}`` that names only the records
    the caller may see (``auth/names.py``).

    ``signed_contents`` gives ``v2v audit verify`` the content of the feature's signed records
    now: a function ``() -> {record_type: (session, record_id) -> content}`` whose readers
    recompute exactly what was signed (``manufacturing/signed_content.py``).
    """

    name: str
    title: str
    tables: bool = False
    api: str | None = None
    pages: str | None = None
    nav: tuple[NavItem, ...] = ()
    cli: tuple[CliMount, ...] = ()
    templates: bool = False
    demo: str | None = None
    home: str | None = None
    labels: str | None = None
    queues: str | None = None
    signed_contents: str | None = None
    permissions: tuple[Perm, ...] = ()

    @property
    def package(self) -> str:
        return f"vein2vein.{self.name}"

    def load(self, target: str) -> Any:
        """Import ``module:attribute`` from this feature's package."""
        module, _, attribute = target.partition(":")
        return getattr(importlib.import_module(f"{self.package}.{module}"), attribute)


P = Perm
FEATURES: tuple[Feature, ...] = (
    Feature(
        name="auth",
        title="Organisations, users, sessions and signatures",
        tables=True,
        api="api:router",
        pages="web:router",
        nav=(
            NavItem("Organisations", "/orgs", P.ORG_READ, section="Administration"),
            NavItem("Users", "/users", P.USER_READ, section="Administration"),
        ),
        cli=(
            CliMount("orgs", "cli:orgs_app", "Organisations: the CDMO and its sponsor clients."),
            CliMount("users", "cli:users_app", "Users, roles, lock-outs and API tokens."),
        ),
        templates=True,
        home="views:home_counts",
        labels="names:entity_labels",
        queues="queues:work_queues",
        permissions=(P.ORG_READ, P.ORG_MANAGE, P.USER_READ, P.USER_MANAGE, P.PERSONAL_DATA_READ),
    ),
    Feature(
        name="programs",
        title="Sponsor programs",
        tables=True,
        api="api:router",
        pages="web:router",
        nav=(NavItem("Programs", "/programs", P.PROGRAM_READ),),
        cli=(CliMount("programs", "cli:app", "Sponsor programs (product, target, indication)."),),
        templates=True,
        home="views:home_counts",
        labels="names:entity_labels",
        permissions=(P.PROGRAM_READ, P.PROGRAM_MANAGE),
    ),
    Feature(
        name="identity",
        title="Chain of identity and custody",
        tables=True,
        api="api:router",
        pages="web:router",
        nav=(
            NavItem("Orders", "/coi", P.PROGRAM_READ),
            NavItem("Patients", "/coi/patients", P.PROGRAM_READ),
            NavItem("Scan", "/coi/scan", P.PROGRAM_READ),
            NavItem("Mismatches", "/coi/mismatches", P.PROGRAM_READ),
        ),
        cli=(
            CliMount("coi", "cli:app", "Chain of identity: ISBT 128 DINs, scanned codes, labels."),
        ),
        templates=True,
        demo="demo:load_identity_demo",
        labels="names:entity_labels",
        queues="queues:work_queues",
        permissions=(
            P.ORDER_PLACE,
            P.DIN_ISSUE,
            P.CUSTODY_RECORD,
            P.CUSTODY_RECORD_SITE,
            P.CUSTODY_RECORD_CDMO,
            P.CUSTODY_RELEASE,
            P.MISMATCH_CLEAR,
        ),
    ),
    Feature(
        name="manufacturing",
        title="Batch records, deviations, materials and genealogy",
        tables=True,
        api="routers:api_router",
        pages="routers:page_router",
        nav=(
            NavItem("Master batch records", "/mbr", P.MBR_READ, section="Manufacturing"),
            NavItem("Lots", "/lots", P.LOT_READ, section="Manufacturing"),
            NavItem("Deviations", "/deviations", P.DEVIATION_READ, section="Manufacturing"),
            NavItem("Batches", "/batches", P.BATCH_READ, section="Manufacturing"),
            NavItem("Genealogy", "/trace", P.LOT_READ, section="Manufacturing"),
        ),
        cli=(
            CliMount(
                "mbr",
                "cli:app",
                "Master batch records: import and export YAML, list versions, show differences.",
            ),
            CliMount(
                "lots",
                "materials_cli:lots_app",
                "Material lots: receive, release or reject, check a lot for use.",
            ),
            CliMount(
                "deviations",
                "materials_cli:deviations_app",
                "Deviations: list, classify, close with an electronic signature.",
            ),
            CliMount(
                "batches",
                "batch_cli:batches_app",
                "Executed batch records: list with status, suite and deviations.",
            ),
            CliMount(
                "trace",
                "batch_cli:trace_app",
                "Genealogy: the lots and equipment of a batch, the batches of a lot.",
            ),
        ),
        templates=True,
        demo="demo:load_manufacturing_demo",
        signed_contents="signed_content:content_readers",
        queues="queues:work_queues",
        permissions=(
            P.MBR_READ,
            P.MBR_AUTHOR,
            P.MBR_REVIEW,
            P.MBR_APPROVE,
            P.LOT_READ,
            P.LOT_RECEIVE,
            P.LOT_RELEASE,
            P.DEVIATION_READ,
            P.DEVIATION_OPEN,
            P.DEVIATION_MANAGE,
            P.BATCH_READ,
            P.BATCH_EXECUTE,
            P.BATCH_VERIFY,
            P.BATCH_APPROVE,
        ),
    ),
    Feature(
        name="quality",
        title="QC release: specifications, results, OOS, release and certificates",
        tables=True,
        api="api:router",
        pages="web:router",
        nav=(
            NavItem("QC worklist", "/qc", P.QC_RESULT_ENTER, section="Quality"),
            NavItem("Release", "/release", P.QC_READ, section="Quality"),
            NavItem("Investigations", "/qc/investigations", P.QC_READ, section="Quality"),
            NavItem("Specifications", "/specs", P.QC_READ, section="Quality"),
            NavItem("Verify a CoA", "/coa/verify", P.QC_READ, section="Quality"),
        ),
        templates=True,
        demo="demo:load_quality_demo",
        signed_contents="signed_content:content_readers",
        queues="queues:work_queues",
        cli=(
            CliMount("release", "cli:release_app", "QC release: each batch's release state."),
            CliMount("coa", "cli:coa_app", "Certificates of Analysis: export and verify."),
            CliMount(
                "results",
                "cli:results_app",
                "QC results: import a results CSV or an instrument export.",
            ),
            CliMount("spec", "cli:spec_app", "Release specifications: import, list, approve."),
        ),
        permissions=(
            P.QC_READ,
            P.QC_RESULT_ENTER,
            P.SPEC_AUTHOR,
            P.SPEC_APPROVE,
            P.OOS_MANAGE,
            P.BATCH_RELEASE,
        ),
    ),
    Feature(
        name="clinical",
        title="Clinical readout",
        tables=True,
        api="api:router",
        pages="web:router",
        nav=(NavItem("Clinical", "/clinical", P.PROGRAM_READ),),
        cli=(
            CliMount(
                "clinical",
                "cli:app",
                "Clinical readout: RECIST 1.1 / iRECIST, best overall response, ORR/DCR, "
                "OS/PFS/DOR.",
            ),
        ),
        templates=True,
        demo="demo:load_clinical_demo",
        labels="names:entity_labels",
        queues="queues:work_queues",
        signed_contents="report_versions:signed_contents",
        permissions=(P.CLINICAL_WRITE, P.CLINICAL_REPORT_SIGN),
    ),
    Feature(
        name="stats",
        title="CMC statistics (files)",
        cli=(
            CliMount(
                "stats",
                "cli:app",
                "CMC statistics: equivalence, tolerance intervals, control charts, capability, "
                "kinetics.",
            ),
        ),
        templates=True,
    ),
    Feature(
        name="scheduling",
        title="Capacity scheduling",
        tables=True,
        api="api:router",
        pages="web:router",
        nav=(NavItem("Schedule", "/schedule", P.PROGRAM_READ),),
        cli=(
            CliMount(
                "schedule",
                "cli:app",
                "Capacity scheduling: patient batches over GMP suites and the QC laboratory.",
            ),
        ),
        templates=True,
        demo="demo:load_scheduling_demo",
        labels="names:entity_labels",
        permissions=(P.PLAN_READ, P.PLAN_MANAGE),
    ),
    Feature(
        name="insights",
        title="Comparability, CPV, product and outcome, CTD tables",
        tables=True,
        api="routers:api_router",
        pages="routers:page_router",
        nav=(
            NavItem("Comparability", "/comparability", P.COMPARABILITY_READ, section="Quality"),
            NavItem("Process verification", "/cpv", P.QC_READ, section="Quality"),
            NavItem("CTD tables", "/ctd", P.QC_READ, section="Quality"),
            NavItem("Product and outcome", "/outcome", P.OUTCOME_READ, section="Insights"),
        ),
        cli=(
            CliMount(
                "comparability",
                "comparability_cli:app",
                "Comparability protocols on stored batches: write, sign, run, report.",
            ),
            CliMount(
                "cpv",
                "cpv_cli:app",
                "Continued process verification: control charts, frozen baselines, conformance.",
            ),
            CliMount("reports", "ctd_cli:app", "Regulatory reports: the CTD tables of a program."),
            CliMount(
                "outcome",
                "outcome_cli:app",
                "Product and outcome: subjects linked to their orders, attributes beside response.",
            ),
        ),
        templates=True,
        demo="demo:load_insights_demo",
        queues="queues:work_queues",
        signed_contents="signed_content:content_readers",
        labels="names:entity_labels",
        permissions=(
            P.COMPARABILITY_READ,
            P.COMPARABILITY_AUTHOR,
            P.COMPARABILITY_APPROVE,
            P.CPV_FREEZE,
            P.OUTCOME_READ,
            P.OUTCOME_LINK,
        ),
    ),
    Feature(
        name="audittrail",
        title="Audit trail",
        tables=True,
        api="api:router",
        pages="web:router",
        nav=(
            NavItem("Audit trail", "/audit", P.AUDIT_READ, section="Compliance"),
            NavItem("Audit reviews", "/audit/reviews", P.AUDIT_REVIEW, section="Compliance"),
            NavItem("Verify chain", "/audit/verify", P.AUDIT_VERIFY, section="Compliance"),
        ),
        cli=(CliMount("audit", "cli:app", "Audit trail: verify, read, export, anchor."),),
        templates=True,
        labels="names:entity_labels",
        queues="queues:work_queues",
        permissions=(P.AUDIT_READ, P.AUDIT_VERIFY, P.AUDIT_REVIEW),
    ),
)


def feature(name: str) -> Feature:
    for f in FEATURES:
        if f.name == name:
            return f
    raise KeyError(name)


# --- what the kits read ---------------------------------------------------------------------


def import_tables() -> None:
    """Import every feature's ``tables`` so that ``Base.metadata`` holds the whole schema."""
    for f in FEATURES:
        if f.tables:
            importlib.import_module(f"{f.package}.tables")


def metadata() -> MetaData:
    """The whole schema: the audit chain and every feature's tables (Alembic, drift test)."""
    from vein2vein.store import audit  # noqa: F401  (the audit table)
    from vein2vein.store.base import Base

    import_tables()
    return Base.metadata


def template_folders() -> list[Path]:
    return [PACKAGE / f.name / "templates" for f in FEATURES if f.templates]


def nav_items() -> list[NavItem]:
    return [item for f in FEATURES for item in f.nav]


def api_routers() -> list[APIRouter]:
    return [f.load(f.api) for f in FEATURES if f.api]


def page_routers() -> list[APIRouter]:
    return [f.load(f.pages) for f in FEATURES if f.pages]


def home_counts() -> list[Callable[..., dict[str, int]]]:
    return [f.load(f.home) for f in FEATURES if f.home]


def entity_labels(
    session: Session, scope: Scope, refs: Collection[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """Human names of the records ``refs`` ((entity type, id) pairs, as the audit trail keeps
    them) that ``scope`` may see, from every feature that names its records."""
    wanted = frozenset(refs)
    names: dict[tuple[str, str], str] = {}
    if not wanted:
        return names
    for f in FEATURES:
        if f.labels:
            names |= f.load(f.labels)(session, scope, wanted)
    return names


def signed_contents() -> dict[str, Callable[[Session, str], Any]]:
    """Record type → reader of a signed record's content now, from every feature that signs
    records (``v2v audit verify`` checks each locking signature against it)."""
    readers: dict[str, Callable[[Session, str], Any]] = {}
    for f in FEATURES:
        if f.signed_contents:
            readers |= f.load(f.signed_contents)()
    return readers


def work_queues() -> list[Callable[..., Any]]:
    """Each feature's work-queue source, called as ``source(session, scope, now)``."""
    return [f.load(f.queues) for f in FEATURES if f.queues]


def cli_mounts() -> Iterable[tuple[str, str, Callable[[], typer.Typer]]]:
    """(sub-command, help, loader of its Typer app) for every feature, in declaration order."""
    for f in FEATURES:
        for mount in f.cli:
            yield mount.name, mount.help, (lambda f=f, m=mount: f.load(m.target))


def demo_loaders() -> list[Callable[..., Any]]:
    """Each feature's demo loader, called as ``loader(uow, demo_context)`` in order."""
    return [f.load(f.demo) for f in FEATURES if f.demo]


# --- the composed application ---------------------------------------------------------------


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    """The web application with every feature's routers, pages, navigation and templates."""
    from vein2vein.web.app import build_app

    return build_app(
        settings,
        db,
        api_routers=api_routers(),
        page_routers=page_routers(),
        nav=nav_items(),
        template_folders=template_folders(),
        home_counts=home_counts(),
        work_queues=work_queues(),
    )


def create_cli() -> typer.Typer:
    """The ``v2v`` command line: the kit's root commands and every feature's sub-app."""
    from vein2vein.cli.main import build_root

    def demo() -> tuple[Callable[..., bool], Sequence[Any], str]:
        from vein2vein.demo.generator import DEMO_PASSWORD, DEMO_USERS, load_demo

        return load_demo, DEMO_USERS, DEMO_PASSWORD

    return build_root(mounts=cli_mounts(), create_app=create_app, demo=demo)


def main() -> None:
    """Entry point of the ``v2v`` script."""
    create_cli()()
