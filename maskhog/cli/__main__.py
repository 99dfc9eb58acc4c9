"""``python -m maskhog.cli``: the command line."""

from . import main

main()
