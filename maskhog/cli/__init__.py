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
from .config import config, load_settings, set_envvars, settings_file
from .detect import detect
from .doctor import doctor
from .evaluate import evaluate
from .explain import explain
from .features import features
from .live import live
from .predict import predict
from .report import report
from .serve import serve
from .train import train
from .train_cnn import train_cnn
from .train_detector import train_detector

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "MASKHOG"})
@click.version_option(__version__, prog_name="maskhog")
@click.option("--config", "config_file", envvar="MASKHOG_CONFIG", type=click.Path(exists=True, dir_okay=False),
              help="Settings file: a table per command, options by their long name "
                   "(default: maskhog.toml in the working folder, if there is one).")
@click.option("-q", "--quiet", is_flag=True, help="No progress and no summary lines on stderr.")
@click.option("-v", "--verbose", is_flag=True, help="Also say how long each stage took.")
@click.pass_context
def main(ctx, config_file, quiet, verbose):
    """Tell whether the people in images and video wear a face mask, on a CPU.

    Every option can also be set in maskhog.toml (see `maskhog config show`) or by an
    environment variable, MASKHOG_<COMMAND>_<OPTION> or MASKHOG_<OPTION>
    (MASKHOG_PREDICT_MIN_FACE=40); a flag beats the environment, which beats the file.

    Shell completion (bash; zsh and fish alike, with zsh_source or fish_source):
    eval "$(_MASKHOG_COMPLETE=bash_source maskhog)" in ~/.bashrc.
    """
    import logging

    from .. import progress
    from ..messages import to_stderr

    if quiet and verbose:
        raise click.UsageError("--quiet and --verbose do not go together")
    progress.configure(quiet=quiet, verbose=verbose)
    ctx.call_on_close(progress.configure)   # a script that runs a command in-process gets the default back
    to_stderr(logging.WARNING if quiet else logging.INFO)
    file = settings_file(config_file)
    ctx.meta["maskhog.config"] = file
    if file is not None:
        # click ranks it itself: a flag, then the environment, then this map, then the default.
        ctx.default_map = load_settings(main, file)


for _command in (features, train, train_cnn, train_detector, evaluate, predict, live, detect, explain, check,
                 report, serve, config, doctor):
    main.add_command(_command)
set_envvars(main)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
