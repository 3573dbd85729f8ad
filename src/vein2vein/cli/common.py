"""What every CLI command shares: the database, error reporting, JSON output, password input."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.exc import ArgumentError, OperationalError

from vein2vein.core.canonical import to_jsonable
from vein2vein.core.errors import DatabaseOutOfDate, InputError, V2VError
from vein2vein.core.settings import get_settings
from vein2vein.store.database import Database
from vein2vein.store.migrate import ensure_up_to_date

F = TypeVar("F", bound=Callable[..., Any])


def database(check: bool = True) -> Database:
    db = Database(get_settings())
    if check:
        ensure_up_to_date(db.engine)
    return db


def get_settings_url() -> str:
    """The configured database URL without any password, for error messages."""
    from sqlalchemy.engine import make_url

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
        except ValidationError as exc:  # settings from V2V_* variables
            first = exc.errors()[0]
            name = "V2V_" + str(first["loc"][0]).upper() if first.get("loc") else "a V2V_ variable"
            fail(f"configuration: {name}: {first['msg']}", 2)
        except (OperationalError, ArgumentError) as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            fail(f"cannot open the database ({get_settings_url()}): {reason}", 3)
        except InputError as exc:
            fail(exc.message, 2)
        except V2VError as exc:
            fail(exc.message, 1)

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
