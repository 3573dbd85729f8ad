"""``python -m vein2vein.cli`` runs the ``v2v`` command line."""

from vein2vein.cli.main import app

app()
