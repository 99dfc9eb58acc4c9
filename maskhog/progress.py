"""Progress on stderr placeholder."""
_quiet = _verbose = False


def configure(*, quiet=False, verbose=False):
    global _quiet, _verbose
    _quiet, _verbose = quiet, verbose
