"""``v2v serve`` and ``v2v demo``: run the web application."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import typer

from vein2vein.cli.common import database, handle_errors
from vein2vein.core.errors import RuleViolation

# uvicorn, rich tables and the store load when the command runs, not when `v2v` starts


def make_serve(create_app: Callable[..., Any]) -> Callable[..., None]:
    """``v2v serve`` over the composed application factory."""

    @handle_errors
    def serve(
        host: str | None = typer.Option(None, "--host", help="Default: V2V_HOST or 127.0.0.1"),
        port: int | None = typer.Option(None, "--port", help="Default: V2V_PORT or 8000"),
    ) -> None:
        """Serve the web application (refuses an out-of-date database)."""
        import uvicorn

        db = database()
        app = create_app(db.settings, db)
        uvicorn.run(
            app,
            host=host or db.settings.host,
            port=port or db.settings.port,
            log_level="info",
            proxy_headers=False,
        )

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
