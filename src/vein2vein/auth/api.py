"""API routes of organisations, users and API tokens (all within the caller's scope)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from vein2vein.auth import schemas, service
from vein2vein.auth.roles import ROLE_PERMISSIONS, Perm, Role
from vein2vein.auth.scope import get_scoped
from vein2vein.auth.tables import ApiToken, Organisation, User
from vein2vein.core.errors import PermissionDenied
from vein2vein.web.context import AuthDep, DbDep, require

router = APIRouter(prefix="/api", tags=["organisations and users"])


@router.get("/me", response_model=schemas.Me)
def me(auth: AuthDep) -> schemas.Me:
    """Who the caller is and what their role allows."""
    s = auth.scope
    return schemas.Me(
        user_id=s.user_id,
        username=s.username,
        full_name=s.full_name,
        organisation_id=s.organisation_id,
        organisation_kind=s.organisation_kind,
        role=s.role,
        permissions=sorted(p.value for p in ROLE_PERMISSIONS[Role(s.role)]),
    )


@router.get(
    "/orgs", response_model=list[schemas.OrganisationPublic], dependencies=[require(Perm.ORG_READ)]
)
def list_orgs(auth: AuthDep, db: DbDep) -> list[dict[str, object]]:
    """Organisations the caller may see (a sponsor sees only itself)."""
    with db.read() as session:
        stmt = auth.scope.filter(select(Organisation), Organisation, "id").order_by(
            Organisation.name
        )
        return [o.public() for o in session.scalars(stmt)]


@router.get("/orgs/{org_id}", response_model=schemas.OrganisationDetail)
def get_org(org_id: int, auth: AuthDep, db: DbDep) -> dict[str, object]:
    with db.read() as session:
        org = get_scoped(session, auth.scope, Organisation, org_id, "id")
        auth.scope.require(Perm.ORG_READ)
        return org.public() | {"sites": [s.public() for s in org.sites]}


@router.post(
    "/orgs",
    response_model=schemas.OrganisationPublic,
    status_code=201,
    dependencies=[require(Perm.ORG_MANAGE)],
)
def create_org(body: schemas.OrganisationCreate, auth: AuthDep, db: DbDep) -> dict[str, object]:
    with db.uow(auth.actor) as uow:
        org = service.create_organisation(uow, body.name, body.kind)
        uow.commit()
        return org.public()


@router.get(
    "/users", response_model=list[schemas.UserPublic], dependencies=[require(Perm.USER_READ)]
)
def list_users(auth: AuthDep, db: DbDep) -> list[dict[str, object]]:
    with db.read() as session:
        return [u.public() for u in service.list_users(session, auth.scope)]


@router.get("/users/{user_id}", response_model=schemas.UserPublic)
def get_user(user_id: int, auth: AuthDep, db: DbDep) -> dict[str, object]:
    with db.read() as session:
        user = get_scoped(session, auth.scope, User, user_id)
        auth.scope.require(Perm.USER_READ)
        return user.public()


@router.post(
    "/users",
    response_model=schemas.UserPublic,
    status_code=201,
    dependencies=[require(Perm.USER_MANAGE)],
)
def create_user(body: schemas.UserCreate, auth: AuthDep, db: DbDep) -> dict[str, object]:
    with db.uow(auth.actor) as uow:
        org = get_scoped(uow.session, auth.scope, Organisation, body.organisation_id, "id")
        user = service.create_user(
            uow,
            db.settings,
            username=body.username,
            full_name=body.full_name,
            organisation=org,
            role=body.role,
            password=body.password,
            email=body.email,
            must_change_password=True,
        )
        uow.commit()
        return user.public()


@router.post("/users/{user_id}/role", response_model=schemas.UserPublic)
def change_role(
    user_id: int, body: schemas.RoleChange, auth: AuthDep, db: DbDep
) -> dict[str, object]:
    with db.uow(auth.actor) as uow:
        user = get_scoped(uow.session, auth.scope, User, user_id)
        auth.scope.require(Perm.USER_MANAGE)
        service.set_role(uow, user, body.role, body.reason)
        uow.commit()
        return user.public()


@router.post("/users/{user_id}/disable", response_model=schemas.UserPublic)
def disable(user_id: int, body: schemas.Reason, auth: AuthDep, db: DbDep) -> dict[str, object]:
    with db.uow(auth.actor) as uow:
        user = get_scoped(uow.session, auth.scope, User, user_id)
        auth.scope.require(Perm.USER_MANAGE)
        service.disable_user(uow, user, body.reason)
        uow.commit()
        return user.public()


@router.post("/users/{user_id}/unlock", response_model=schemas.UserPublic)
def unlock(user_id: int, body: schemas.Reason, auth: AuthDep, db: DbDep) -> dict[str, object]:
    with db.uow(auth.actor) as uow:
        user = get_scoped(uow.session, auth.scope, User, user_id)
        auth.scope.require(Perm.USER_MANAGE)
        service.unlock_user(uow, user, body.reason)
        uow.commit()
        return user.public()


@router.get("/tokens", response_model=list[schemas.TokenPublic])
def list_tokens(auth: AuthDep, db: DbDep) -> list[dict[str, object]]:
    """The caller's own API tokens."""
    with db.read() as session:
        rows = session.scalars(
            select(ApiToken).where(ApiToken.user_id == auth.scope.user_id).order_by(ApiToken.id)
        )
        return [t.public() for t in rows]


@router.post("/tokens", response_model=schemas.TokenIssued, status_code=201)
def create_token(body: schemas.TokenCreate, auth: AuthDep, db: DbDep) -> dict[str, object]:
    """Issue an API token for the caller; the value is shown once.

    Only from a signed-in session: a token cannot mint further tokens.
    """
    if auth.via == "token":
        raise PermissionDenied("API tokens are issued from a signed-in session, not by a token")
    with db.uow(auth.actor) as uow:
        user = uow.session.get_one(User, auth.scope.user_id)
        tok, plain = service.create_token(uow, user, body.name, body.days)
        uow.commit()
        return tok.public() | {"token": plain}


@router.post("/tokens/{token_id}/revoke", response_model=schemas.TokenPublic)
def revoke_token(token_id: int, auth: AuthDep, db: DbDep) -> dict[str, object]:
    with db.uow(auth.actor) as uow:
        user = uow.session.get_one(User, auth.scope.user_id)
        tok = service.revoke_token(uow, user, token_id)
        uow.commit()
        return tok.public()
