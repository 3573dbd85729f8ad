"""Separation of duties (issue 12): the administrator (IT) records no custody event, decides no
lot and closes no deviation; batch entries join ``NOT_FOR_ADMINISTRATORS`` with their permission.
The roles table is the only place that grants, so checking it checks every route and service
(the HTTP and service checks are in tests/e2e/manufacturing/test_materials_http.py)."""

from __future__ import annotations

from vein2vein.auth.roles import NOT_FOR_ADMINISTRATORS, ROLE_PERMISSIONS, Perm, Role


def test_the_administrator_holds_no_gmp_hands_on_permission() -> None:
    assert not (ROLE_PERMISSIONS[Role.ADMIN] & NOT_FOR_ADMINISTRATORS)


def test_every_custody_permission_is_kept_from_administrators() -> None:
    custody = {p for p in Perm if p.value.startswith("custody.")}
    assert custody and custody <= NOT_FOR_ADMINISTRATORS
    # someone still holds each of them (the work is done, by the right people)
    for perm in NOT_FOR_ADMINISTRATORS:
        assert any(perm in perms for perms in ROLE_PERMISSIONS.values()), perm
