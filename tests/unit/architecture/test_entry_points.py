"""Entry points are thin (issue 9): API routes, pages and CLI commands parse, authorise, call one
service or view, and render. They hold no SQL: reads go through ``views.py`` modules and changes
through services, which own look-up within the tenant scope, permission and locking.

The check reads the source: a call of ``select(``, ``.execute(``, ``.scalars(``, ``.scalar(``,
``session.get(``/``.get_one(`` or ``.query(`` in an ``api.py``, ``web.py`` or ``cli.py`` of any
feature, or in ``web/home.py``, fails with the file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import vein2vein

SRC = Path(vein2vein.__file__).resolve().parent
ENTRY_NAMES = {"api.py", "web.py", "cli.py"}
SQL_CALLS = {"select", "execute", "scalars", "scalar", "query", "get_one"}


def entry_points() -> list[Path]:
    found = [
        p
        for p in SRC.rglob("*.py")
        if (p.name in ENTRY_NAMES or p.name.endswith(("_api.py", "_web.py", "_cli.py")))
        and p.parent != SRC / "cli"
    ]
    found.append(SRC / "web" / "home.py")
    return sorted(found)


def sql_calls(source: str) -> list[tuple[int, str]]:
    """(line, call) of every SQL-looking call in ``source``."""
    hits = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in SQL_CALLS:
            hits.append((node.lineno, f"{func.id}("))
        elif isinstance(func, ast.Attribute):
            if func.attr in SQL_CALLS - {"select"}:
                hits.append((node.lineno, f".{func.attr}("))
            elif func.attr == "get" and isinstance(func.value, ast.Name):
                if func.value.id in ("session", "s", "uow"):
                    hits.append((node.lineno, f"{func.value.id}.get("))
            elif (
                func.attr == "get"
                and isinstance(func.value, ast.Attribute)
                and func.value.attr == "session"
            ):
                hits.append((node.lineno, "session.get("))
    return sorted(hits)


@pytest.mark.parametrize("path", entry_points(), ids=lambda p: str(p.relative_to(SRC)))
def test_entry_points_hold_no_sql(path: Path) -> None:
    hits = sql_calls(path.read_text(encoding="utf-8"))
    where = ", ".join(f"line {line}: {call}" for line, call in hits)
    assert not hits, f"{path.relative_to(SRC)} runs SQL ({where}): move it to views.py or a service"


def test_the_check_finds_sql() -> None:
    source = (
        "from sqlalchemy import select\n"
        "def page(db):\n"
        "    with db.read() as session:\n"
        "        rows = session.scalars(select(X)).all()\n"
        "        one = session.get(X, 1)\n"
        "        uow.session.execute(text('SELECT 1'))\n"
    )
    calls = {call for _, call in sql_calls(source)}
    assert calls == {"select(", ".scalars(", "session.get(", ".execute("}
    assert sql_calls("def f(d):\n    return d.get('a')\n") == []
