"""``python -m cgd_bridge`` runs the CLI."""

from cgd_bridge.cli import main

main()
