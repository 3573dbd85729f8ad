"""API routes of organisations, users and API tokens (all within the caller's scope)."""

from __future__ import annotations

from fastapi import APIRouter

from vein2vein.auth import schemas, service, tokens, views
from vein2vein.auth.roles import Perm
from vein2vein.core.errors import PermissionDenied
from vein2vein.web.context import AuthDep, DbDep, require

router = APIRouter(prefix="/api", tags=["organisations and users"])


@router.get("/me", response_model=schemas.Me, dependencies=[require(None)])
def me(auth: AuthDep) -> dict[str, object]:
    """Who the caller is and what their role allows."""
    return views.me(auth.scope)


@router.get(
    "/orgs", response_model=list[schemas.OrganisationPublic], dependencies=[require(Perm.ORG_READ)]
)
def list_orgs(auth: AuthDep, db: DbDep) -> list[dict[str, object]]:
    """Organisations the caller may see (a sponsor sees only itself)."""
    with db.read() as session:
        return views.organisations(session, auth.scope)


@router.get(
    "/orgs/{org_id}",
    response_model=schemas.OrganisationDetail,
    dependencies=[require(Perm.ORG_READ)],
)
def get_org(org_id: int, auth: AuthDep, db: DbDep) -> dict[str, object]:
    with db.read() as session:
        return views.organisation(session, auth.scope, org_id)


@router.post(
    "/orgs",
    response_model=schemas.OrganisationPublic,
    status_code=201,
    dependencies=[require(Perm.ORG_MANAGE)],
)
def create_org(body: schemas.OrganisationCreate, auth: AuthDep, db: DbDep) -> dict[str, object]:
    with db.uow(auth.actor) as uow:
        org = service.create_organisation(uow, auth.scope, body.name, body.kind)
        uow.commit()
        return org.public()


@router.get(
    "/users", response_model=list[schemas.UserPublic], dependencies=[require(Perm.USER_READ)]
)
def list_users(auth: AuthDep, db: DbDep) -> list[dict[str, object]]:
    with db.read() as session:
        return views.users(session, auth.scope)


@router.get(
    "/users/{user_id}", response_model=schemas.UserPublic, dependencies=[require(Perm.USER_READ)]
)
def get_user(user_id: int, auth: AuthDep, db: DbDep) -> dict[str, object]:
    with db.read() as session:
        return views.user(session, auth.scope, user_id)


@router.post(
    "/users",
    response_model=schemas.UserPublic,
    status_code=201,
    dependencies=[require(Perm.USER_MANAGE)],
)
def create_user(body: schemas.UserCreate, auth: AuthDep, db: DbDep) -> dict[str, object]:
    with db.uow(auth.actor) as uow:
        user = service.create_user(
            uow,
            auth.scope,
            db.settings,
            username=body.username,
            full_name=body.full_name,
            organisation=body.organisation_id,
            role=body.role,
            password=body.password,
            email=body.email,
            must_change_password=True,
        )
        uow.commit()
        return user.public()


@router.post(
    "/users/{user_id}/role",
    response_model=schemas.UserPublic,
    dependencies=[require(Perm.USER_MANAGE)],
)
def change_role(
    user_id: int, body: schemas.RoleChange, auth: AuthDep, db: DbDep
) -> dict[str, object]:
    with db.uow(auth.actor) as uow:
        user = service.set_role(uow, auth.scope, user_id, body.role, body.reason)
        uow.commit()
        return user.public()


@router.post(
    "/users/{user_id}/disable",
    response_model=schemas.UserPublic,
    dependencies=[require(Perm.USER_MANAGE)],
)
def disable(user_id: int, body: schemas.Reason, auth: AuthDep, db: DbDep) -> dict[str, object]:
    with db.uow(auth.actor) as uow:
        user = service.disable_user(uow, auth.scope, user_id, body.reason)
        uow.commit()
        return user.public()


@router.post(
    "/users/{user_id}/unlock",
    response_model=schemas.UserPublic,
    dependencies=[require(Perm.USER_MANAGE)],
)
def unlock(user_id: int, body: schemas.Reason, auth: AuthDep, db: DbDep) -> dict[str, object]:
    with db.uow(auth.actor) as uow:
        user = service.unlock_user(uow, auth.scope, user_id, body.reason)
        uow.commit()
        return user.public()


@router.get("/tokens", response_model=list[schemas.TokenPublic], dependencies=[require(None)])
def list_tokens(auth: AuthDep, db: DbDep) -> list[dict[str, object]]:
    """The caller's own API tokens."""
    with db.read() as session:
        return views.own_tokens(session, auth.scope)


@router.post(
    "/tokens",
    response_model=schemas.TokenIssued,
    status_code=201,
    dependencies=[require(None)],
)
def create_token(body: schemas.TokenCreate, auth: AuthDep, db: DbDep) -> dict[str, object]:
    """Issue an API token for the caller; the value is shown once.

    Only from a signed-in session: a token cannot mint further tokens.
    """
    if auth.via == "token":
        raise PermissionDenied("API tokens are issued from a signed-in session, not by a token")
    with db.uow(auth.actor) as uow:
        tok, plain = tokens.create_token(uow, auth.scope, body.name, body.days)
        uow.commit()
        return tok.public() | {"token": plain}


@router.post(
    "/tokens/{token_id}/revoke",
    response_model=schemas.TokenPublic,
    dependencies=[require(None)],
)
def revoke_token(token_id: int, auth: AuthDep, db: DbDep) -> dict[str, object]:
    with db.uow(auth.actor) as uow:
        tok = tokens.revoke_token(uow, auth.scope, token_id)
        uow.commit()
        return tok.public()
