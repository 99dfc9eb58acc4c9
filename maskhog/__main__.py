"""``python -m maskhog``: the command line."""

from .cli import main

main()
