"""Root of the ``v2v`` command line: mounts one Typer sub-app per feature.

Helper agents: read /work/main/HELPERS_READ_FIRST.md; add your mount line between the markers below.
"""

from __future__ import annotations

import typer

from vein2vein import __version__
from vein2vein.audittrail.cli import app as audit_app
from vein2vein.auth.cli import orgs_app, users_app
from vein2vein.cli import db as db_cli
from vein2vein.cli.serve import demo, serve
from vein2vein.programs.cli import app as programs_app

app = typer.Typer(
    name="v2v",
    help="vein2vein: the audited record of an autologous CAR-T program.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.command()
def version() -> None:
    """Print the vein2vein version."""
    typer.echo(__version__)


app.command()(serve)
app.command()(demo)
app.add_typer(db_cli.app, name="db")
app.add_typer(audit_app, name="audit")
app.add_typer(orgs_app, name="orgs")
app.add_typer(users_app, name="users")
app.add_typer(programs_app, name="programs")

# --- feature sub-apps (one line each: app.add_typer(<feature>_app, name="<feature>")) ---
from vein2vein.identity.cli import app as coi_app  # noqa: E402

app.add_typer(coi_app, name="coi")
from vein2vein.clinical.cli import app as clinical_app  # noqa: E402

app.add_typer(clinical_app, name="clinical")
from vein2vein.stats.cli import app as stats_app  # noqa: E402

app.add_typer(stats_app, name="stats")
from vein2vein.scheduling.cli import app as schedule_app  # noqa: E402

app.add_typer(schedule_app, name="schedule")
# --- end of feature sub-apps ---
