"""Chain-of-identity forms and route permissions: numbers typed as anything but ASCII digits
within plausible bounds are refused on the form (4xx, the error shown, nothing written), and
every route declares the one permission its action needs."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.factories import PASSWORD
from tests.integration.identity import world as W
from tests.webclient import logged_in

from vein2vein.auth.roles import Perm
from vein2vein.identity import api, custody, views, web
from vein2vein.identity.domain import Step
from vein2vein.store import audit
from vein2vein.store.database import Database

#: a superscript two and Arabic-Indic twelve: str.isdigit() says yes, int() fails or reads 12
NOT_ASCII = ["²", "١٢"]


@pytest.fixture
def world(sqlite_db: Database) -> W.World:
    return W.build(sqlite_db)


def _audit_count(db: Database) -> int:
    with db.read() as session:
        return len(audit.query(session))


def _order_form(csrf: str, **changes: str) -> dict[str, str]:
    today = dt.date.today()
    form = {
        "csrf_token": csrf,
        "product_code": "S1234100",
        "dose_level": "DL1",
        "weight_kg": "68.2",
        "planned_apheresis": str(today - dt.timedelta(days=5)),
        "required_by": str(today + dt.timedelta(days=30)),
        "starting_material": "fresh",
        "time_zone": "Europe/Amsterdam",
    } | dict.fromkeys(["hbv", "hcv", "hiv", "htlv", "syphilis"], "negative")
    return form | changes


@pytest.mark.parametrize("typed", NOT_ASCII)
@pytest.mark.parametrize(
    ("field", "message"),
    [("program_id", "choose a program"), ("treatment_site_id", "treatment sites")],
)
def test_enrol_form_refuses_digits_that_are_not_ascii(
    world: W.World, typed: str, field: str, message: str
) -> None:
    c, csrf = logged_in(world.db, "a.clinical", PASSWORD)
    before = _audit_count(world.db)
    form = {
        "csrf_token": csrf,
        "program_id": str(world.ids["program_a"]),
        "subject_id": "HLX-777",
        "treatment_site_id": str(world.ids["site_a"]),
    }
    r = c.post("/coi/patients", data=form | {field: typed})
    assert r.status_code == 422, r.text[:300]
    assert 'role="alert"' in r.text and message in r.text
    assert f'data-field="{field}"' in r.text
    assert "HLX-777" in r.text  # the subject id typed is kept on the form
    assert _audit_count(world.db) == before  # nothing written


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("²", "Weight (kg): enter a number"),
        ("١٢", "Weight (kg): enter a number"),
        ("1e400", "Weight (kg): enter a number"),
        ("NaN", "Weight (kg): enter a number"),
        (str(10**30), "Weight (kg): must be at most 400"),
        ("0.1", "Weight (kg): must be at least 0.5"),
        ("", "Weight (kg): required"),
    ],
)
def test_order_form_refuses_implausible_weights(world: W.World, typed: str, message: str) -> None:
    pid = W.enrol(world)
    c, csrf = logged_in(world.db, "a.clinical", PASSWORD)
    before = _audit_count(world.db)
    r = c.post(f"/coi/patients/{pid}/orders", data=_order_form(csrf, weight_kg=typed))
    assert r.status_code == 422, r.text[:300]
    assert message in r.text and 'data-field="weight_kg"' in r.text
    assert _audit_count(world.db) == before
    ok = c.post(f"/coi/patients/{pid}/orders", data=_order_form(csrf), follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"].startswith("/coi/orders/")


@pytest.mark.parametrize("typed", NOT_ASCII)
def test_order_page_numbers_are_ascii_digits(world: W.World, typed: str) -> None:
    oid = W.order(world, W.enrol(world))
    W.assign_din(world, oid)
    c, csrf = logged_in(world.db, "operator", PASSWORD)
    bags = c.post(f"/coi/orders/{oid}/bags", data={"csrf_token": csrf, "bags": typed})
    assert bags.status_code == 422 and "Bags: enter a whole number" in bags.text
    label = c.post(
        f"/coi/orders/{oid}/labels",
        data={"csrf_token": csrf, "label": "apheresis-bag", "format": "pdf", "bag": typed},
    )
    assert label.status_code == 422 and "Bag: enter a whole number" in label.text
    too_many = c.post(f"/coi/orders/{oid}/bags", data={"csrf_token": csrf, "bags": "27"})
    assert too_many.status_code == 422 and "between 1 and 26" in too_many.text


def test_handoff_form_refuses_an_excursion_count_that_is_not_ascii(world: W.World) -> None:
    oid = W.order(world, W.enrol(world))
    W.assign_din(world, oid)
    at = W.walk(world, oid, Step.SHIPPED)
    c, csrf = logged_in(world.db, "operator", PASSWORD)
    form = {
        "csrf_token": csrf,
        "step": "received",
        "occurred_at": at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M"),
        "time_zone": "UTC",
        "location": "Leiden GMP",
        "condition": "intact",
    }
    for typed in NOT_ASCII:
        r = c.post(f"/coi/orders/{oid}/events", data=form | {"excursions": typed})
        assert r.status_code == 422 and "Excursions: enter a whole number" in r.text
        assert 'data-verdict="stop"' in r.text  # shown as "not recorded"


def test_roles_lacking_the_routes_permission_are_refused(world: W.World) -> None:
    oid = W.order(world, W.enrol(world))
    viewer, viewer_csrf = logged_in(world.db, "a.viewer", PASSWORD)
    enrol = {"csrf_token": viewer_csrf, "program_id": str(world.ids["program_a"])}
    assert viewer.post("/coi/patients", data=enrol).status_code == 403  # order.place
    operator, csrf = logged_in(world.db, "operator", PASSWORD)
    assert operator.post("/coi/patients", data=enrol | {"csrf_token": csrf}).status_code == 403
    admin, admin_csrf = logged_in(world.db, "admin", PASSWORD)
    step = {"csrf_token": admin_csrf, "step": "collected"}
    assert admin.post(f"/coi/orders/{oid}/events", data=step).status_code == 403  # custody
    clinical, clinical_csrf = logged_in(world.db, "a.clinical", PASSWORD)
    # a sponsor lacking din.issue on its own order: refused by the service after the scoped
    # look-up (another client's order would be "not found")
    bags = {"csrf_token": clinical_csrf, "bags": "2"}
    assert clinical.post(f"/coi/orders/{oid}/bags", data=bags).status_code == 403
    assert viewer.get("/coi/scan").status_code == 200  # the scan page is a read


#: (method, path) -> the one permission each identity route declares
EXPECTED = {
    ("GET", "/api/coi/patients"): Perm.PROGRAM_READ,
    ("POST", "/api/coi/patients"): Perm.ORDER_PLACE,
    ("GET", "/api/coi/patients/{patient_id}"): Perm.PROGRAM_READ,
    ("GET", "/api/coi/patients/{patient_id}/timeline"): Perm.PROGRAM_READ,
    ("GET", "/api/coi/orders"): Perm.PROGRAM_READ,
    ("POST", "/api/coi/orders"): Perm.ORDER_PLACE,
    ("GET", "/api/coi/orders/{order_id}"): Perm.PROGRAM_READ,
    ("POST", "/api/coi/orders/{order_id}/apheresis-din"): Perm.DIN_ISSUE,
    ("POST", "/api/coi/orders/{order_id}/new-apheresis"): Perm.DIN_ISSUE,
    ("POST", "/api/coi/orders/{order_id}/bags"): Perm.DIN_ISSUE,
    ("POST", "/api/coi/orders/{order_id}/labels"): Perm.DIN_ISSUE,
    ("POST", "/api/coi/orders/{order_id}/events"): Perm.CUSTODY_RECORD,
    ("GET", "/api/coi/mismatches"): Perm.PROGRAM_READ,
    ("POST", "/api/coi/mismatches/{mismatch_id}/clear"): Perm.MISMATCH_CLEAR,
    ("POST", "/api/coi/dins"): Perm.DIN_ISSUE,
    ("POST", "/api/coi/scan"): Perm.PROGRAM_READ,
    ("GET", "/coi"): Perm.PROGRAM_READ,
    ("GET", "/coi/patients"): Perm.PROGRAM_READ,
    ("POST", "/coi/patients"): Perm.ORDER_PLACE,
    ("GET", "/coi/patients/{patient_id}"): Perm.PROGRAM_READ,
    ("POST", "/coi/patients/{patient_id}/orders"): Perm.ORDER_PLACE,
    ("GET", "/coi/orders/{order_id}"): Perm.PROGRAM_READ,
    ("POST", "/coi/orders/{order_id}/din"): Perm.DIN_ISSUE,
    ("POST", "/coi/orders/{order_id}/new-apheresis"): Perm.DIN_ISSUE,
    ("POST", "/coi/orders/{order_id}/labels"): Perm.DIN_ISSUE,
    ("POST", "/coi/orders/{order_id}/bags"): Perm.DIN_ISSUE,
    ("GET", "/coi/orders/{order_id}/scan"): Perm.PROGRAM_READ,
    ("POST", "/coi/orders/{order_id}/events"): Perm.CUSTODY_RECORD,
    ("GET", "/coi/scan"): Perm.PROGRAM_READ,
    ("POST", "/coi/scan"): Perm.PROGRAM_READ,
    ("GET", "/coi/mismatches"): Perm.PROGRAM_READ,
    ("POST", "/coi/mismatches/{mismatch_id}/clear"): Perm.MISMATCH_CLEAR,
}


def test_every_identity_route_declares_its_permission() -> None:
    declared = {}
    for router in (api.router, web.router):
        for route in router.routes:
            assert isinstance(route, APIRoute)
            perms = [
                d.dependency.v2v_permission  # type: ignore[union-attr]
                for d in route.dependencies
                if hasattr(d.dependency, "v2v_permission")
            ]
            assert len(perms) == 1, f"{route.path} declares {perms}"
            for method in route.methods:
                declared[(method, route.path)] = perms[0]
    assert declared == EXPECTED


# --- arbitrary text in every field of every identity form: never a 5xx ------------------------

NASTY = ["²", "١٢", "1e400", "NaN", "-Infinity", str(10**30), "-1", "0", " ", "\x00", "a" * 3000]
NASTY += ["+99:99", "Etc/GMT+14", "../../etc/passwd", "0001-01-01T00:00+05:00", "2026-02-30"]
NASTY += ["=<S1234100", "=#19610307", "]d1=+02000", "&c", "x\u202ey", "\ufeff7"]


def _forms(world: W.World, pid: int, oid: int, mid: int) -> list[tuple[str, str, dict[str, str]]]:
    """(user, path, a valid form) of every POST form of the identity pages."""
    today = dt.date.today()
    return [
        (
            "a.clinical",
            "/coi/patients",
            {
                "program_id": str(world.ids["program_a"]),
                "subject_id": "HLX-900",
                "treatment_site_id": str(world.ids["site_a"]),
                "date_of_birth": "1970-01-01",
                "initials": "AB",
            },
        ),
        ("a.clinical", f"/coi/patients/{pid}/orders", _order_form("")),
        ("operator", f"/coi/orders/{oid}/din", {}),
        ("operator", f"/coi/orders/{oid}/bags", {"bags": "2"}),
        (
            "operator",
            f"/coi/orders/{oid}/labels",
            {"label": "apheresis-bag", "format": "pdf", "bag": "1"},
        ),
        (
            "operator",
            f"/coi/orders/{oid}/events",
            {
                "step": "received",
                "occurred_at": str(today),
                "time_zone": "UTC",
                "location": "Leiden",
                "scan": "",
                "more_scans": "",
                "subject_id": "",
                "date_of_birth": "",
                "courier": "",
                "shipper_id": "",
                "logger_id": "",
                "condition": "intact",
                "excursions": "0",
                "storage_location": "",
                "position": "",
                "batch_number": "",
                "performed_by": "",
            },
        ),
        ("a.clinical", "/coi/scan", {"scanned": "=A99992600000100"}),
        (
            "qa",
            f"/coi/mismatches/{mid}/clear",
            {"reason": "label re-checked at the bench", "username": "qa", "password": PASSWORD},
        ),
    ]


@pytest.fixture
def fuzz_world(sqlite_db: Database):  # type: ignore[no-untyped-def]
    world = W.build(sqlite_db)
    pid = W.enrol(world)
    oid = W.order(world, pid)
    W.assign_din(world, oid)
    at = W.walk(world, oid, Step.SHIPPED)
    wrong = ["=" + "A999926999999" + "00"]
    with pytest.raises(custody.HandoffStopped):
        W.record(world, oid, Step.RECEIVED, at, scans=wrong)
    with world.db.read() as session:
        mid = views.list_mismatches(session, world.scopes["qa"])[0]["id"]
    clients = {u: logged_in(sqlite_db, u, PASSWORD) for u in ("a.clinical", "operator", "qa")}
    return _forms(world, pid, oid, mid), clients


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_identity_form_answers_5xx_whatever_is_typed(fuzz_world, data) -> None:  # type: ignore[no-untyped-def]
    forms, clients = fuzz_world
    user, path, form = data.draw(st.sampled_from(forms))
    c, csrf = clients[user]
    fields = sorted(form) or ["unexpected"]
    typed = data.draw(
        st.dictionaries(
            st.sampled_from(fields),
            st.one_of(st.text(max_size=40), st.sampled_from(NASTY)),
            min_size=1,
        )
    )
    r = c.post(path, data=form | typed | {"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code < 500, (path, typed, r.text[:300])


def test_every_field_of_every_identity_form_refuses_bad_numbers_without_5xx(fuzz_world) -> None:  # type: ignore[no-untyped-def]
    """The numbers the issue names, in every field of every form (the sweep Hypothesis may miss)."""
    forms, clients = fuzz_world
    crashed = []
    for user, path, form in forms:
        c, csrf = clients[user]
        for field in sorted(form):
            for typed in ("²", "١٢", "1e400", "NaN", str(10**30), "-1", "\x00", "a" * 3000):
                r = c.post(path, data=form | {field: typed, "csrf_token": csrf})
                if r.status_code >= 500:
                    crashed.append(f"{path} {field}={typed[:12]!r}: {r.status_code}")
    assert not crashed, "\n".join(crashed)
