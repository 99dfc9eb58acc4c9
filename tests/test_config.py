"""maskhog.toml, MASKHOG_* variables and `maskhog config show`, through the command line."""

import json
import os

import pytest
from click.testing import CliRunner

from maskhog.cli import main


@pytest.fixture
def here(tmp_path, monkeypatch):
    """A working folder of its own, and no MASKHOG_* variable from the caller's shell."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("MASKHOG_") and name != "MASKHOG_SHARED_DATA":
            monkeypatch.delenv(name)
    return tmp_path


def shown(output, command):
    """{option: (value, source)} of one command's table in `config show`'s output."""
    table = output.split(f"[{command}]\n", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for line in table.splitlines():
        setting, source = (part.strip() for part in line.rsplit("# ", 1))
        key, _, value = setting.partition(" = ")
        rows[key] = (value, source)
    return rows


def test_precedence_is_flag_then_environment_then_file_then_default(here):
    (here / "maskhog.toml").write_text('[predict]\nmin-face = 40\nevery = 10\nformat = "csv"\n'
                                       '[live]\ndetect_every = 3\n')
    env = {"MASKHOG_PREDICT_EVERY": "5", "MASKHOG_JOBS": "2"}
    result = CliRunner().invoke(main, ["config", "show", "predict", "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    rows = shown(result.output, "predict")
    file = f"file {here / 'maskhog.toml'}"
    assert rows["format"] == ('"json"', "flag")
    assert rows["every"] == ("5", "env MASKHOG_PREDICT_EVERY")
    assert rows["jobs"] == ("2", "env MASKHOG_JOBS")
    assert rows["min-face"] == ("40", file)
    assert rows["later-looks"] == ("true", "default") and rows["upsample"] == ("0", "default")
    # All commands, each from the same file: [live] spelled with an underscore.
    everything = CliRunner().invoke(main, ["config", "show"], env=env).output
    assert shown(everything, "live")["detect-every"] == ("3", file)
    assert shown(everything, "detect")["upsample"] == ("0", "default")


def test_the_environment_beats_the_file_and_the_commands_own_variable_beats_all_commands(here):
    (here / "maskhog.toml").write_text("[predict]\nmin-face = 40\n")
    env = {"MASKHOG_MIN_FACE": "60", "MASKHOG_PREDICT_MIN_FACE": "80"}
    rows = shown(CliRunner().invoke(main, ["config", "show", "predict"], env=env).output, "predict")
    assert rows["min-face"] == ("80", "env MASKHOG_PREDICT_MIN_FACE")
    rows = shown(CliRunner().invoke(main, ["config", "show", "evaluate"], env=env).output, "evaluate")
    assert rows["min-face"] == ("60", "env MASKHOG_MIN_FACE")


def test_settings_change_what_predict_does(here):
    """The demo's faces are about 100 px across: min-face 150 from the file drops them;
    a flag of 50 brings them back, and so does the environment over the file."""
    def faces(args=(), env=None):
        result = CliRunner().invoke(main, ["predict", "--demo", *args], env=env)
        assert result.exit_code == 0, result.output
        lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
        return [len(json.loads(line)["faces"]) for line in lines]

    assert faces() == [1, 1]
    (here / "maskhog.toml").write_text("[predict]\nmin-face = 150\n")
    assert faces() == [0, 0]
    assert faces(["--min-face", "50"]) == [1, 1]
    assert faces(env={"MASKHOG_MIN_FACE": "50"}) == [1, 1]
    # --config names another file; the one here is then not read.
    (here / "other.toml").write_text('[predict]\nformat = "csv"\n')
    result = CliRunner().invoke(main, ["--config", "other.toml", "predict", "--demo"])
    assert result.exit_code == 0 and result.stdout.startswith("image,")
    result = CliRunner().invoke(main, ["predict", "--demo"], env={"MASKHOG_CONFIG": "other.toml"})
    assert result.exit_code == 0 and result.stdout.startswith("image,")
    result = CliRunner().invoke(main, ["--config", "missing.toml", "predict", "--demo"])
    assert result.exit_code == 2 and "'missing.toml' does not exist" in result.output


@pytest.mark.parametrize("text, message", [
    ("[predict]\nmin-fce = 40\n", "the predict command has no option 'min-fce' (did you mean 'min-face'?)"),
    ("[predcit]\nmin-face = 40\n", "[predcit] is not a maskhog command (did you mean 'predict'?)"),
    ("[live]\ndetect-evry = 2\n", "the live command has no option 'detect-evry' (did you mean 'detect-every'?)"),
    ("min-face = 40\n", "[min-face] is not a maskhog command"),
    ("[predict\n", "not a valid TOML file"),
])
def test_a_bad_settings_file_is_named_with_the_key_and_command(here, text, message):
    (here / "maskhog.toml").write_text(text)
    result = CliRunner().invoke(main, ["predict", "--demo"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "maskhog.toml: " in result.output and message in result.output


def test_a_bad_value_in_the_file_is_a_usage_error_naming_the_option(here):
    (here / "maskhog.toml").write_text('[predict]\nupsample = 9\n')
    result = CliRunner().invoke(main, ["predict", "--demo"])
    assert result.exit_code == 2 and "--upsample" in result.output


def test_config_show_without_a_file_and_for_an_unknown_command(here):
    result = CliRunner().invoke(main, ["config", "show", "train"])
    assert result.exit_code == 0 and "# settings file: none" in result.output
    assert shown(result.output, "train")["size"] == ("64", "default")
    result = CliRunner().invoke(main, ["config", "show", "predcit"])
    assert result.exit_code == 2 and "did you mean 'predict'?" in result.output
