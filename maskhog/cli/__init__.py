"""The ``maskhog`` command line: one thin module per command.

Each command parses its options and calls the library; nothing here knows an
algorithm. Heavy modules are imported inside the commands so that ``maskhog
--help`` answers at once on an old laptop. Data goes to stdout, logs and
progress to stderr.
"""

from __future__ import annotations

import sys

import click

from .. import __version__
from .check import check
from .detect import detect
from .evaluate import evaluate
from .explain import explain
from .features import features
from .live import live
from .predict import predict
from .train import train
from .train_cnn import train_cnn
from .train_detector import train_detector

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="maskhog")
def main():
    """Tell whether the people in images and video wear a face mask, on a CPU."""
    from ..messages import to_stderr

    to_stderr()


for _command in (features, train, train_cnn, train_detector, evaluate, predict, live, detect, explain,
                 check):
    main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
