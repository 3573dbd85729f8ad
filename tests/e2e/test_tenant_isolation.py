"""Tenant isolation: every route that every later feature registers must pass this test.

A user of sponsor A asks every registered API and page route that takes an identifier for sponsor
B's objects; anything other than 404 fails (403 would leak that the object exists). Routes without
identifiers must not mention B's records. A route whose path parameter is not mapped below fails
the test: map it to one of sponsor B's objects when adding the route.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from tests import factories
from tests.factories import PASSWORD
from tests.mbr_world import V1 as MBR_V1
from tests.openapi_examples import example_body
from tests.webclient import client, logged_in

from vein2vein.audittrail import service as reviews
from vein2vein.auth import service, tokens
from vein2vein.auth.tables import User
from vein2vein.clinical import datasets as clinical_datasets
from vein2vein.clinical import report_versions as clinical_reports
from vein2vein.clinical import studies as clinical_studies
from vein2vein.clinical.demo import demo_files
from vein2vein.identity import custody, intake, orders
from vein2vein.identity.tables import MARKERS, Order
from vein2vein.insights import comparability_service
from vein2vein.insights.comparability_tables import CmpRun
from vein2vein.insights.cpv_tables import CpvBaseline
from vein2vein.manufacturing import deviations, lots, mbrs
from vein2vein.manufacturing.tables import Batch, MasterBatchRecord
from vein2vein.programs.tables import Program
from vein2vein.quality import spec_yaml, specs
from vein2vein.quality.tables import QcInvestigation, QcResult
from vein2vein.scheduling import planning as schedule
from vein2vein.scheduling import settings as schedule_settings
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor
from vein2vein.web.app import registered_routes

PARAM = re.compile(r"{(\w+)(?::\w+)?}")


def _world(db: Database) -> dict[str, Any]:
    cdmo = factories.org(db, "CDMO", "Northbridge")
    a = factories.org(db, "SPONSOR", "Helixa")
    b = factories.org(db, "SPONSOR", "Corvane")
    qa = factories.user(db, cdmo, "qa_reviewer", username="qa")
    factories.user(db, a, "sponsor_clinical", username="a.clinical")
    factories.user(db, a, "sponsor_viewer", username="a.viewer")
    b_user = factories.user(db, b, "sponsor_clinical", username="b.secret.user")
    b_program = factories.program(db, b, "CRV-SECRET")
    with db.uow(Actor("t")) as uow:
        site = service.add_site(
            uow, factories.SERVER, b.id, "Corvane Hidden Clinic", "Antwerp", "BE"
        )
        b_scope = service.scope_of(uow.session.get_one(User, b_user.id))
        tok, _ = tokens.create_token(uow, b_scope, "b-token", 10)
        review = reviews.create_review(
            uow, service.scope_of(uow.session.get_one(User, qa.id)), "cdmo only"
        )
        uow.commit()
    b_coi = _coi_world(db, cdmo, b_user, qa, site.id, b_program.id)
    b_clinical = _clinical_world(db, b_user, b_program.id)
    cdmo_schedule = _schedule_world(db, cdmo, qa)
    b_mbr = _mbr_world(db, cdmo, qa)
    materials = _materials_world(db, qa, b_coi["order_id"])
    b_batch = _batch_world(db, b_coi["order_id"], b_mbr["mbr_id"])
    b_quality = _quality_world(db, qa, b_batch["batch_id"])
    b_outcome = _outcome_world(db, b_user, b_clinical["study_id"], b_coi["order_id"])
    b_cpv = _cpv_world(db, b_program.id, site.id)
    b_comparability = _comparability_world(db, qa)
    return {
        "ids": {
            "org_id": b.id,
            "user_id": b_user.id,
            "program_id": b_program.id,
            "token_id": tok.id,
            "review_id": review.id,
            "site_id": site.id,
            "action": "disable",
            **b_coi,
            **b_clinical,
            **cdmo_schedule,
            **b_mbr,
            **materials,
            **b_batch,
            **b_quality,
            **b_outcome,
            **b_cpv,
            **b_comparability,
        },
        "secrets": [
            "Corvane",
            "CRV-SECRET",
            "b.secret.user",
            "CRV-SUBJ-SECRET",
            "CRV-STUDY-SECRET",
            "CRV-DEV-SECRET",
        ],
    }


def _schedule_world(db: Database, cdmo: Any, qa: Any) -> dict[str, Any]:
    """CDMO-only scheduling objects (suite, downtime, draft, published plan that includes
    sponsor B's order): sponsors must reach none of them."""
    with db.uow(Actor("t")) as uow:
        qa_scope = service.scope_of(uow.session.get_one(User, qa.id))
        mfg = service.add_site(uow, factories.SERVER, cdmo.id, "Leiden GMP", "Leiden", "NL")
        suite = schedule_settings.add_suite(
            uow, qa_scope, site_id=mfg.id, code="LEI-01", available_from="2025-01-01"
        )
        window = schedule_settings.add_downtime(
            uow, qa_scope, suite.id, first_day="2031-01-01", last_day="2031-01-02", reason="PM"
        )
        schedule_settings.set_product(
            uow,
            qa_scope,
            product_code="S1234",
            process_days=10,
            qc_days_rapid=3,
            qc_days_compendial=14,
            start_weekdays="Mon-Sun",
            cryo_hold_days=3650,
        )
        uow.commit()
    with db.uow(Actor("t")) as uow:
        draft = schedule.compute_draft(uow, qa_scope, method="greedy")
        uow.commit()
    with db.uow(Actor("t")) as uow:
        plan = schedule.publish(uow, qa_scope, draft.id)
        draft2 = schedule.compute_draft(uow, qa_scope, method="greedy")
        uow.commit()
    return {
        "suite_id": suite.id,
        "downtime_id": window.id,
        "draft_id": draft2.id,
        "plan_id": plan.id,
    }


def _mbr_world(db: Database, cdmo: Any, qa: Any) -> dict[str, Any]:
    """Two master batch records (at two CDMO sites) of sponsor B's program: the CDMO's records,
    which only B may read."""
    text = MBR_V1.read_text(encoding="utf-8").replace("product: HLX-EPC-01", "product: CRV-SECRET")
    ids = []
    for site_name in ("Ghent GMP", "Ghent GMP 2"):
        with db.uow(Actor("t")) as uow:
            qa_scope = service.scope_of(uow.session.get_one(User, qa.id))
            service.add_site(uow, factories.SERVER, cdmo.id, site_name, "Ghent", "BE")
            site_text = text.replace("site: Site B — Ghent", f"site: {site_name}")
            ids.append(mbrs.import_yaml(uow, qa_scope, site_text, "b.yaml").id)
            uow.commit()
    return {"mbr_id": ids[0], "other_id": ids[1]}


def _materials_world(db: Database, qa: Any, b_order_id: int) -> dict[str, Any]:
    """A CDMO material lot (sponsors see no lot) and a deviation of sponsor B's order."""
    with db.uow(Actor("qa")) as uow:
        qa_scope = service.scope_of(uow.session.get_one(User, qa.id))
        lots.add_material(
            uow, qa_scope, code="LV-X", name="Vector", kind="lentiviral_vector", unit="mL"
        )
        lot = lots.receive_lot(
            uow,
            qa_scope,
            material="LV-X",
            lot_number="LV-X-001",
            supplier="Vector CDMO",
            expiry="2030-01-01",
            quantity="10",
            titer="200000000",
        )
        dev = deviations.open_deviation(
            uow,
            qa_scope,
            title="CRV-DEV-SECRET incubator alarm",
            description="CO2 alarm during expansion of sponsor B's batch",
            order_id=b_order_id,
        )
        uow.commit()
        # ``lot``: a lot by its number, as the genealogy pages name it (/trace/lot/{lot})
        return {"lot_id": lot.id, "lot": lot.lot_number, "deviation_id": dev.id}


def _batch_world(db: Database, b_order_id: int, b_mbr_id: int) -> dict[str, Any]:
    """An executed batch record of sponsor B's order. Written as a row (the MBR here is a
    draft, and the service makes batches from effective ones only): the isolation test needs
    the object, the service is tested in tests/integration/manufacturing/test_batches.py.
    Audited like every change to a batch (``store.audited`` refuses it otherwise)."""
    with db.uow(Actor("t")) as uow:
        order = uow.session.get_one(Order, b_order_id)
        mbr = uow.session.get_one(MasterBatchRecord, b_mbr_id)
        batch = Batch(
            organisation_id=order.organisation_id,
            order_id=order.id,
            coi=order.coi,
            din=order.apheresis_din or "",
            mbr_id=mbr.id,
            mbr_version=mbr.version,
            mbr_hash=mbr.content_hash,
            site_id=mbr.site_id,
            planned_suite="Suite 1",
            order_facts="[]",
            status="IN_PROGRESS",
            created_by="t",
        )
        uow.session.add(batch)
        uow.session.flush()
        uow.record("batch.created", "batch", batch.id, organisation_id=order.organisation_id)
        uow.commit()
        return {"batch_id": batch.id}


def _quality_world(db: Database, qa: Any, b_batch_id: int) -> dict[str, Any]:
    """A draft specification of sponsor B's program and an OOS investigation of B's batch.
    The result and investigation are written as rows (the batch has no specification in
    force); the services are tested in tests/integration/quality/test_release_store.py."""

    text = (spec_yaml.DEMO_DIR / "epcam_iit_v1.yaml").read_text(encoding="utf-8")
    with db.uow(Actor("qa")) as uow:
        qa_scope = service.scope_of(uow.session.get_one(User, qa.id))
        spec = specs.import_spec(
            uow, qa_scope, text.replace("product: HLX-EPC-01", "product: CRV-SECRET"), "b.yaml"
        )
        batch = uow.session.get_one(Batch, b_batch_id)
        result = QcResult(
            organisation_id=batch.organisation_id, batch_id=batch.id, spec_id=spec.id,
            test_code="viability", value_text="50", unit="%", value="50", rounded="50 %",
            outcome="does not conform", message="50 % < 70 %", analyst="qa",
            analyst_name="QA", source="form", entered_by="qa",
        )  # fmt: skip
        uow.session.add(result)
        uow.session.flush()
        inv = QcInvestigation(
            organisation_id=batch.organisation_id, number="OOS-2026-9001", batch_id=batch.id,
            result_id=result.id, test_code="viability", status="phase_i", opened_by="qa",
        )  # fmt: skip
        uow.session.add(inv)
        uow.commit()
        return {"spec_id": spec.id, "ref": inv.number}


def _cpv_world(db: Database, program_id: int, site_id: int) -> dict[str, Any]:
    """A frozen CPV baseline of sponsor B's program, written as a row (the service, which needs
    released batches, is tested in tests/integration/insights/test_cpv_store.py)."""
    with db.uow(Actor("qa")) as uow:
        program = uow.session.get_one(Program, program_id)
        row = CpvBaseline(
            organisation_id=program.organisation_id, program_id=program_id, site_id=site_id,
            test_code="viability", unit="%", period_start=dt.date(2026, 1, 1),
            period_end=dt.date(2026, 2, 1), n=3, center=80.0, sigma=2.0, lcl=74.0, ucl=86.0,
            mr_center=2.3, mr_ucl=7.4, content='{"points":[],"warnings":[],"method":{}}',
            content_hash="0" * 64, reason="CRV-SECRET baseline", status="effective",
            frozen_by="qa", frozen_by_name="QA",
        )  # fmt: skip
        uow.session.add(row)
        uow.commit()
        return {"baseline_id": row.id}


def _comparability_world(db: Database, qa: Any) -> dict[str, Any]:
    """A comparability protocol of sponsor B's program and a run of it (written as a row: a
    run needs an approved version; the services are tested in
    tests/integration/insights/test_comparability_store.py)."""
    text = (
        "title: CRV-SECRET transfer\nprogram: CRV-SECRET\nchange: transfer\n"
        "reference: {label: old, site: X}\ntest: {label: new, site: Y}\n"
        "attributes: [{name: viability, source: 'qc:viability', tier: 3}]\n"
    )
    with db.uow(Actor("qa")) as uow:
        qa_scope = service.scope_of(uow.session.get_one(User, qa.id))
        protocol = comparability_service.create(uow, qa_scope, text, "b.yaml")
        run = CmpRun(
            organisation_id=protocol.organisation_id, protocol_id=protocol.id, run_by="qa",
            inputs="{}", inputs_hash="0" * 64, result="{}", conclusion="descriptive only",
        )  # fmt: skip
        uow.session.add(run)
        uow.commit()
        return {"protocol_id": protocol.id, "run_id": run.id}


def _clinical_world(db: Database, b_user: Any, program_id: int) -> dict[str, Any]:
    """Sponsor B's clinical study with one uploaded dataset version."""
    with db.uow(Actor("t")) as uow:
        b_scope = service.scope_of(uow.session.get_one(User, b_user.id))
        study = clinical_studies.create_study(
            uow, b_scope, program_id=program_id, code="CRV-STUDY-SECRET", title="Hidden study"
        )
        version = clinical_datasets.upload_dataset(uow, b_scope, study.id, demo_files())
        report = clinical_reports.generate(uow, b_scope, study.id, ["b.secret.user"]).report
        uow.commit()
        return {
            "study_id": study.id,
            "version_id": version.id,
            "file_name": "subjects.csv",
            "report_id": report.id,
        }


def _outcome_world(db: Database, b_user: Any, study_id: int, order_id: int) -> dict[str, Any]:
    """Sponsor B's study subject linked to B's order (product and outcome, issue 14)."""
    from vein2vein.identity.tables import Order
    from vein2vein.insights.outcome_links import link_subject

    with db.uow(Actor("t")) as uow:
        b_scope = service.scope_of(uow.session.get_one(User, b_user.id))
        coi = uow.session.get_one(Order, order_id).coi
        link = link_subject(uow, b_scope, study_id, "IIT-G01", coi)
        uow.commit()
        return {"link_id": link.id}


def _coi_world(
    db: Database, cdmo: Any, b_user: Any, qa: Any, site_id: int, program_id: int
) -> dict:
    """Sponsor B's patient, order (with its apheresis DIN) and an open hand-off mismatch."""
    with db.uow(Actor("t")) as uow:
        b_scope = service.scope_of(uow.session.get_one(User, b_user.id))
        qa_scope = service.scope_of(uow.session.get_one(User, qa.id))
        orders.register_facility(uow, uow.session.merge(cdmo), "A9999", "Northbridge", "UTC")
        patient = orders.enrol_patient(
            uow,
            b_scope,
            program_id=program_id,
            subject_id="CRV-SUBJ-SECRET",
            treatment_site_id=site_id,
        )
        order = orders.place_order(
            uow,
            b_scope,
            intake.OrderRequest(
                patient_id=patient.id,
                product_code="S1234100",
                dose_level="DL1",
                weight_kg=70,
                planned_apheresis="2026-01-05",
                required_by="2026-02-20",
                starting_material="fresh",
                markers=dict.fromkeys(MARKERS, "negative"),
            ),
        )
        ids = {"patient_id": patient.id, "order_id": order.id}
        uow.commit()
    with db.uow(Actor("t")) as uow:
        orders.assign_apheresis_din(uow, qa_scope, ids["order_id"])
        uow.commit()
    with db.uow(Actor("t")) as uow:
        try:
            custody.record_event(
                uow,
                b_scope,
                ids["order_id"],
                intake.EventRequest(
                    step="collected",
                    occurred_at="2026-01-05T09:00+01:00",
                    location="ward",
                    scans=["=A999926999999" + "00"],
                ),
            )
        except custody.HandoffStopped as stop:
            ids["mismatch_id"] = stop.mismatch_id
    return ids


ABSENT_ID = 2**31 - 1  # an identifier that exists nowhere


def _probe_without_path_ids(  # type: ignore[no-untyped-def]
    client_, method: str, route, spec, defs, ids: dict[str, Any], secrets_: list[str], csrf: str
) -> list[str]:
    """Routes without identifiers in the path: B's identifiers go in the query string (GET) or
    the body. The answer must not depend on whether the identifier is B's or exists nowhere
    (same status), and must never mention B's records."""
    absent = {k: (ABSENT_ID if isinstance(v, int) else v) for k, v in ids.items()}
    op = spec["paths"].get(route.path, {}).get(method.lower(), {})
    query_names = [p["name"] for p in op.get("parameters", []) if p.get("in") == "query"]
    answers = []
    for values in (ids, absent):
        query = {n: values[n] for n in query_names if n in values}
        if method == "GET":
            r = client_.get(route.path, params=query)
        elif route.path.startswith("/api/"):
            content = op.get("requestBody", {}).get("content", {})
            body = (
                example_body(content["application/json"]["schema"], defs, values)
                if "application/json" in content
                else None
            )
            r = client_.request(method, route.path, params=query, json=body)
        else:
            form = {k: str(v) for k, v in values.items()} | {"csrf_token": csrf}
            r = client_.request(method, route.path, params=query, data=form)
        answers.append(r)
    found = [
        f"{method} {route.path} mentions {s}" for r in answers for s in secrets_ if s in r.text
    ]
    if answers[0].status_code != answers[1].status_code:
        found.append(
            f"{method} {route.path} answers {answers[0].status_code} for sponsor B's identifiers "
            f"but {answers[1].status_code} for absent ones"
        )
    return found


@pytest.mark.parametrize("role_user", ["a.clinical", "a.viewer"])
def test_sponsor_a_cannot_reach_sponsor_b(db: Database, role_user: str) -> None:
    world = _world(db)
    ids, secrets_ = world["ids"], world["secrets"]
    c, csrf = logged_in(db, role_user, PASSWORD)
    spec = c.get("/api/openapi.json").json()
    defs = spec.get("components", {}).get("schemas", {})
    with db.uow(Actor("t")) as uow:
        scope = service.scope_of(service.user_by_username(uow.session, role_user))
        _, token = tokens.create_token(uow, scope, "iso", 1)
        uow.commit()
    api = client(db)
    api.headers["authorization"] = f"Bearer {token}"

    leaks: list[str] = []
    checked = 0
    for route in registered_routes(c.app):
        params = PARAM.findall(route.path)
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            is_api = route.path.startswith("/api/")
            if not params:
                if route.path in ("/login", "/logout", "/api/openapi.json"):
                    continue
                leaks += _probe_without_path_ids(
                    api if is_api else c, method, route, spec, defs, ids, secrets_, csrf
                )
                continue
            unmapped = [p for p in params if p not in ids]
            assert not unmapped, f"map {unmapped} of {route.path} to a sponsor-B object here"
            path = PARAM.sub(lambda m: str(ids[m.group(1)]), route.path)
            if is_api:
                kwargs: dict[str, Any] = {}
                op = spec["paths"].get(route.path, {}).get(method.lower(), {})
                content = op.get("requestBody", {}).get("content", {})
                if "application/json" in content:
                    kwargs["json"] = example_body(content["application/json"]["schema"], defs, ids)
                r = api.request(method, path, **kwargs)
            else:
                data = (
                    {
                        "csrf_token": csrf,
                        "reason": "isolation test",
                        "role": "sponsor_viewer",
                        "comment": "x",
                        "password": PASSWORD,
                    }
                    if method != "GET"
                    else None
                )
                r = c.request(method, path, data=data)
            checked += 1
            if r.status_code != 404:
                leaks.append(f"{method} {path} answered {r.status_code}")
            elif any(s in r.text for s in secrets_):
                leaks.append(f"{method} {path} 404 page mentions sponsor B")
    assert checked >= 15
    assert not leaks, "\n".join(leaks)
