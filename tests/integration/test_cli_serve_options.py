"""``v2v serve``: what it hands to uvicorn, one worker and several (the server itself runs in
tests/e2e/test_serve_workers.py)."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from vein2vein.cli import serve
from vein2vein.features import create_cli
from vein2vein.store.database import Database


@pytest.mark.parametrize("workers", [1, 3])
def test_idle_connections_outlive_a_load_balancers(
    cli_db: Database, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    import uvicorn

    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: calls.append((target, kw)))
    args = ["serve", "--port", "8765", "--workers", str(workers)]
    result = CliRunner().invoke(create_cli(), args, env=cli_env)
    assert result.exit_code == 0, result.output
    [(target, options)] = calls
    # uvicorn closes an idle connection after 5 s unless told otherwise; a balancer in front
    # keeps its own open 60 s, and reuses one the application has just closed
    assert options["timeout_keep_alive"] == serve.KEEP_ALIVE_S > 60
    assert options["port"] == 8765 and options["host"] == "127.0.0.1"
    if workers > 1:
        assert options["workers"] == 3 and options["factory"] is True and isinstance(target, str)
    else:
        assert "workers" not in options and not isinstance(target, str)
