"""One settings file for every command, environment variables, and ``maskhog config show``.

Settings come from four places; click itself ranks them, flag > environment >
file > default, and records which one gave each value (``ParameterSource``):

* a flag on the command line;
* ``MASKHOG_<COMMAND>_<OPTION>``, then ``MASKHOG_<OPTION>`` for every command that
  has the option (``MASKHOG_PREDICT_MIN_FACE=40``, ``MASKHOG_MIN_FACE=40``): each
  option's ``envvar`` list, set here from its long name. click's own
  ``auto_envvar_prefix`` would name variables after the Python parameter
  (``MASKHOG_PREDICT_FMT`` for ``--format``) and has no form shared by all commands;
* ``maskhog.toml`` in the working folder, or the file given by ``--config``: a table
  per command, options by their long name (``min-face`` or ``min_face``), handed
  to click as the context's ``default_map``::

      [predict]
      min-face = 40
      format = "csv"

      [live]
      detect-every = 3

* the option's default.
"""

from __future__ import annotations

import difflib
import os
import sys
from pathlib import Path

import click

__all__ = ["FILE_NAME", "config", "load_settings", "option_keys", "set_envvars"]

#: The settings file looked for in the working folder.
FILE_NAME = "maskhog.toml"
_PREFIX = "MASKHOG"


def _commands(group: click.Group, path=()):
    """``(names, command)`` of every command under ``group``, nested groups' ones included."""
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, path + (name,))
        else:
            yield path + (name,), command


def _key(text: str) -> str:
    return text.lstrip("-").replace("-", "_")


def option_keys(command: click.Command) -> dict[str, str]:
    """The settings keys of ``command`` (long option names, dashes as underscores) and the
    parameter each sets."""
    return {_key(opt): param.name for param in command.params
            if isinstance(param, click.Option) and not param.hidden
            for opt in param.opts if opt.startswith("--")}


def set_envvars(group: click.Group) -> None:
    """Give every option of every command its two environment variables (command's first)."""
    for names, command in _commands(group):
        own = "_".join(n.upper().replace("-", "_") for n in names)
        for param in command.params:
            if isinstance(param, click.Option) and param.envvar is None:
                long = next((_key(o).upper() for o in param.opts if o.startswith("--")), None)
                if long:
                    param.envvar = [f"{_PREFIX}_{own}_{long}", f"{_PREFIX}_{long}"]


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load_settings(group: click.Group, path) -> dict:
    """The ``default_map`` of the settings file at ``path``, checked against ``group``'s commands.

    Raises
    ------
    click.UsageError
        A file that is not TOML, a table that names no command, or a key that
        names no option of its command (with the closest name, where one is close).
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise click.UsageError(f"{path}: not a valid TOML file: {exc}") from None
    except OSError as exc:
        raise click.UsageError(f"{path}: cannot read it: {exc.strerror}") from None
    commands = {" ".join(names): command for names, command in _commands(group) if option_keys(command)}
    default_map: dict = {}
    for table, settings in data.items():
        if table not in commands or not isinstance(settings, dict):
            raise click.UsageError(f"{path}: [{table}] is not a maskhog command{_suggest(table, commands)}; "
                                   f"a table per command: {', '.join(f'[{c}]' for c in commands)}")
        keys = option_keys(commands[table])
        target = default_map
        for name in table.split():   # a nested group's command: [config show] -> {"config": {"show": ...}}
            target = target.setdefault(name, {})
        for key, value in settings.items():
            if _key(key) not in keys:
                raise click.UsageError(f"{path}: the {table} command has no option {key!r}"
                                       f"{_suggest(_key(key).replace('_', '-'), [k.replace('_', '-') for k in keys])}")
            target[keys[_key(key)]] = value
    return default_map


def settings_file(given) -> Path | None:
    """The settings file in use: ``--config``'s, else ``maskhog.toml`` here if there is one."""
    if given:
        return Path(given).resolve()
    here = Path(FILE_NAME).resolve()
    return here if here.is_file() else None


# ----------------------------------------------------------- config show --

def _source(ctx: click.Context, param: click.Option, file) -> str:
    from click.core import ParameterSource

    source = ctx.get_parameter_source(param.name)
    if source is ParameterSource.COMMANDLINE:
        return "flag"
    if source is ParameterSource.ENVIRONMENT:
        names = param.envvar if isinstance(param.envvar, (list, tuple)) else [param.envvar]
        return "env " + next(n for n in names if os.environ.get(n))
    if source is ParameterSource.DEFAULT_MAP:
        return f"file {file}"
    return "default"


# Options whose value is a secret (serve's token).
SECRETS = {"token"}


def _shown(value) -> str:
    """``value`` as TOML writes it, so that a line can be pasted into the file (unset: a comment)."""
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(map(_shown, value)) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return repr(value)
    return "" if value is None else '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@click.group()
def config():
    """Settings: maskhog.toml, MASKHOG_* environment variables, and what is in effect."""


def _complete_command(ctx, param, incomplete):
    """Shell completion of COMMAND: the command names."""
    root = ctx.find_root().command
    return [" ".join(names) for names, _ in _commands(root) if names[0] != "config"
            and " ".join(names).startswith(incomplete)]


@config.command("show", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("command", required=False, shell_complete=_complete_command)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def show(ctx, command, args):
    """Print each option's value for COMMAND (default: every command) and where it came from:
    a flag (ARGS given after COMMAND, as the command would take them), an environment
    variable, the settings file, or the default."""
    root = ctx.find_root()
    file = root.meta.get("maskhog.config")
    commands = {" ".join(names): c for names, c in _commands(root.command) if names[0] != "config"}
    if command is not None and command not in commands:
        raise click.BadParameter(f"no command {command!r}{_suggest(command, commands)}", param_hint="COMMAND")
    if args and command is None:
        raise click.UsageError("flags to show go after the COMMAND they are for")
    click.echo(f"# settings file: {file or 'none (no ' + FILE_NAME + ' here, no --config)'}")
    for name in [command] if command else commands:
        # Parsed as the command would be, without running it: click resolves every value and its source.
        sub = commands[name].make_context(name, list(args), parent=root, resilient_parsing=True,
                                          default_map=(root.default_map or {}).get(name))
        rows = []
        for param in sub.command.params:
            if isinstance(param, click.Option) and param.name in sub.params and not param.hidden:
                key = next(o for o in param.opts if o.startswith("--")).lstrip("-")
                value = _shown(sub.params[param.name])
                if value and key in SECRETS:
                    value = '"***"'   # said to be set, never shown: config show may go into a bug report
                rows.append((f"{key} = {value}" if value else f"# {key} (not set)", _source(sub, param, file)))
        width = max((len(line) for line, _ in rows), default=0)
        click.echo(f"\n[{name}]")
        for line, source in rows:
            click.echo(f"{line:<{width}}    # {source}")
