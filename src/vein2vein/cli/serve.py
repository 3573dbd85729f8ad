"""``v2v serve`` and ``v2v demo``: run the web application."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import typer

from vein2vein.cli.common import database, handle_errors
from vein2vein.core.errors import RuleViolation

# uvicorn, rich tables and the store load when the command runs, not when `v2v` starts


#: seconds an idle keep-alive connection is kept open (uvicorn's default is 5). Longer than the
#: idle time-out of the load balancers a site puts in front (60 s on the common ones), so that the
#: balancer, not the application, closes an idle connection: a server that closes a connection at
#: the moment its client sends the next request on it loses that request ("server disconnected
#: without sending a response", seen at 50 users in bench/pages_under_load.py).
KEEP_ALIVE_S = 75


def default_workers() -> int:
    """The number of CPUs this process may use (``nproc``)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def make_serve(create_app: Callable[..., Any]) -> Callable[..., None]:
    """``v2v serve`` over the composed application factory.

    With more than one worker, each is a process of its own that builds its own application by
    calling the factory by name (``module:function``, with no arguments: its settings come from
    the ``V2V_`` environment, as this command's do). Workers share nothing but the database:
    web sessions, CSRF tokens and locks live there (docs/operations.md, "Serving")."""
    target = f"{create_app.__module__}:{create_app.__qualname__}"

    @handle_errors
    def serve(
        host: str | None = typer.Option(None, "--host", help="Default: V2V_HOST or 127.0.0.1"),
        port: int | None = typer.Option(None, "--port", help="Default: V2V_PORT or 8000"),
        workers: int | None = typer.Option(
            None,
            "--workers",
            min=1,
            max=64,
            help="Server processes; default: the number of CPUs this process may use.",
        ),
    ) -> None:
        """Serve the web application (refuses an out-of-date database)."""
        import uvicorn

        db = database()
        # built here first, whatever the number of workers: a database the application refuses
        # (out of date; production with more than row privileges) stops the command with its
        # message instead of failing in every worker
        app = create_app(db.settings, db)
        count = workers or default_workers()
        options: dict[str, Any] = {
            "host": host or db.settings.host,
            "port": port or db.settings.port,
            "log_level": "info",
            "proxy_headers": False,
            "timeout_keep_alive": KEEP_ALIVE_S,
        }
        if count == 1:
            uvicorn.run(app, **options)
            return
        db.dispose()  # the workers open their own connections
        uvicorn.run(target, factory=True, workers=count, **options)

    return serve


def make_demo(
    create_app: Callable[..., Any],
    demo: Callable[[], tuple[Callable[..., bool], Sequence[Any], str]],
) -> Callable[..., None]:
    """``v2v demo`` over the composed application factory; ``demo()`` gives the demo loader, its
    users and their password (loaded when the command runs)."""

    @handle_errors
    def demo_command(
        host: str | None = typer.Option(None, "--host"),
        port: int | None = typer.Option(None, "--port"),
        no_serve: bool = typer.Option(
            False, "--no-serve", help="Prepare the database, do not serve."
        ),
    ) -> None:
        """Create or migrate the database, load the demo data if empty, and serve the app."""
        import uvicorn
        from rich.console import Console
        from rich.table import Table

        from vein2vein.store import migrate

        db = database(check=False)
        if db.settings.environment == "production":
            raise RuleViolation(
                "refusing to load demo users with published passwords into a production database "
                "(V2V_ENVIRONMENT=production)"
            )
        migrate.upgrade(db.engine)
        load_demo, demo_users, demo_password = demo()
        loaded = load_demo(db)
        console = Console()
        console.print(f"database: {db.settings.database_url}")
        console.print("demo data loaded" if loaded else "demo data already present: nothing added")
        table = Table("user name", "name", "organisation", "role", title="Demo log-ins")
        for u in demo_users:
            table.add_row(u.username, u.full_name, u.organisation, u.role)
        console.print(table)
        console.print(f"every demo user's password: [bold]{demo_password}[/bold] (demo only)")
        if no_serve:
            return
        h, p = host or db.settings.host, port or db.settings.port
        console.print(f"serving on http://{h}:{p}  (Ctrl-C to stop)")
        uvicorn.run(create_app(db.settings, db), host=h, port=p, log_level="warning")

    return demo_command
