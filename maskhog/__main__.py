"""``python -m maskhog``: the command line."""

from .cli import main

# Guarded: a spawned worker process imports this module too, and must not run the CLI.
if __name__ == "__main__":
    main()
