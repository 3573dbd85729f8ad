"""What every CLI command shares: the database, error reporting, JSON output, password input."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from vein2vein.core.canonical import to_jsonable
from vein2vein.core.errors import DatabaseOutOfDate, InputError, NotFound, V2VError

if TYPE_CHECKING:
    from vein2vein.auth.scope import Scope
    from vein2vein.store.database import Database
    from vein2vein.store.uow import Actor

# Settings (pydantic), SQLAlchemy, Alembic and the store load when a command opens the database,
# not when `v2v` starts (issue 15: `v2v --help` and file-only commands start fast).

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def database(check: bool = True) -> Database:
    from vein2vein.core.settings import get_settings
    from vein2vein.store.database import Database
    from vein2vein.store.migrate import ensure_up_to_date

    db = Database(get_settings())
    if check:
        ensure_up_to_date(db.engine)
    return db


def get_settings_url() -> str:
    """The configured database URL without any password, for error messages."""
    from sqlalchemy.engine import make_url

    from vein2vein.core.settings import get_settings

    try:
        return make_url(get_settings().database_url).render_as_string(hide_password=True)
    except Exception:
        return "V2V_DATABASE_URL"


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def handle_errors(fn: F) -> F:
    """Turn domain errors into one clear line on stderr and an exit code (2: bad input)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DatabaseOutOfDate as exc:
            fail(exc.message, 3)
        except InputError as exc:
            fail(exc.message, 2)
        except V2VError as exc:
            fail(exc.message, 1)
        except Exception as exc:
            from pydantic import ValidationError
            from sqlalchemy.exc import ArgumentError, OperationalError

            if isinstance(exc, ValidationError):  # settings from V2V_* variables
                first = exc.errors()[0]
                loc = first.get("loc")
                name = "V2V_" + str(loc[0]).upper() if loc else "a V2V_ variable"
                fail(f"configuration: {name}: {first['msg']}", 2)
            if not isinstance(exc, OperationalError | ArgumentError):
                raise
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            fail(f"cannot open the database ({get_settings_url()}): {reason}", 3)

    return wrapper  # type: ignore[return-value]


def emit_json(value: Any) -> None:
    typer.echo(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False))


def read_password(prompt: str = "Password", confirm: bool = True) -> str:
    """From a prompt when a person is at the terminal, else the first line of standard input."""
    if sys.stdin is not None and sys.stdin.isatty():
        return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm))
    line = sys.stdin.readline() if sys.stdin is not None else ""
    if not line:
        raise InputError("no password on standard input", field="password")
    return line.rstrip("\r\n")


# --- who is acting at the command line ------------------------------------------------------


def server_scope(db: Database, org: str | None = None, *, need_cdmo: bool = False) -> Scope:
    """Server-side administration at the command line: every client's records (a CDMO scope),
    no personal data. Its organisation is the CDMO's (``org`` names it when the store holds
    several); ``need_cdmo`` refuses a store without one, for commands that write CDMO records."""
    from vein2vein.auth import service as auth_service
    from vein2vein.auth.scope import Scope
    from vein2vein.store.uow import Actor

    with db.read() as session:
        cdmo_id = auth_service.cdmo_organisation_id(session, org)
    if cdmo_id is None and need_cdmo:
        raise NotFound("no CDMO organisation")
    actor = Actor.cli()
    return Scope(0, actor.name, "server administration", cdmo_id or 0, "CDMO", "admin")


def server_read(read: Callable[..., T], *args: Any, need_cdmo: bool = False, **kwargs: Any) -> T:
    """What ``read(session, scope, *args, **kwargs)`` returns in a read-only unit of the
    configured store, as :func:`server_scope` (the reads of commands run without ``--user``)."""
    db = database()
    scope = server_scope(db, need_cdmo=need_cdmo)
    with db.read() as session:
        return read(session, scope, *args, **kwargs)


def login(db: Database, username: str, password: str | None = None) -> tuple[Scope, Actor]:
    """A person acting at the command line: the user's password is asked for (prompt or first
    line of standard input), checked like a web log-in (failed attempts counted, lock-out).
    ``password``: already asked (a command that also signs asks once, for both)."""
    from vein2vein.auth import service as auth_service
    from vein2vein.store.uow import Actor

    if password is None:
        password = read_password(f"Password of {username}", confirm=False)
    with db.uow(Actor.anonymous(username.strip()[:64])) as uow:
        user = auth_service.authenticate(uow, db.settings, username, password)
        scope = auth_service.scope_of(user)
        uow.commit()
    return scope, Actor(
        name=scope.username, user_id=scope.user_id, organisation_id=scope.organisation_id
    )
