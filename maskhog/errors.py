"""Errors that tell a user what to change.

Each stage raises its own: :class:`maskhog.io.ImageError` (a file that is not a
usable image), :class:`maskhog.modelfiles.ModelError` (a model file that cannot
be used), :class:`maskhog.labels.LabelError` (an unknown class name), and
:class:`OptionError` here: settings that do not go together. The command line
turns the last into a usage error.
"""

__all__ = ["OptionError"]


class OptionError(ValueError):
    """Settings that do not go together (``--pose`` with ``--detector dlib``, say)."""
