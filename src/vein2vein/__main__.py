"""``python -m vein2vein`` runs the ``v2v`` command line."""

from vein2vein.features import main

main()
