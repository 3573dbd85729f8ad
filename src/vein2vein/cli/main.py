"""Root of the ``v2v`` command line (kit): the commands every installation has, and the mounting
of the sub-apps it is handed, each loaded only when used (``cli/lazy.py``). It imports no
feature: ``vein2vein.features.create_cli`` builds the whole command line from the composition
root.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import typer

from vein2vein import __version__
from vein2vein.cli import db as db_cli
from vein2vein.cli.lazy import lazy_group_class
from vein2vein.cli.serve import make_demo, make_serve


def build_root(
    *,
    mounts: Iterable[tuple[str, str, Callable[[], typer.Typer]]],
    create_app: Callable[..., Any],
    demo: Callable[[], tuple[Callable[..., bool], Sequence[Any], str]],
) -> typer.Typer:
    app = typer.Typer(
        cls=lazy_group_class(list(mounts)),
        name="v2v",
        help="vein2vein: the audited record of an autologous CAR-T program.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )

    @app.command()
    def version() -> None:
        """Print the vein2vein version."""
        typer.echo(__version__)

    app.command("serve")(make_serve(create_app))
    app.command("demo")(make_demo(create_app, demo))
    app.add_typer(db_cli.app, name="db")
    return app
