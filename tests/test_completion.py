"""Shell completion, as a shell asks the installed `maskhog` script for it (click's protocol)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).parent / "maskhog"
pytestmark = pytest.mark.skipif(not SCRIPT.is_file(), reason="the maskhog script is not installed beside Python")


def ask(**env):
    done = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env})
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("shell, marker", [("bash", "complete -o nosort -F _maskhog_completion maskhog"),
                                           ("zsh", "compdef _maskhog_completion maskhog"),
                                           ("fish", "complete --no-files --command maskhog")])
def test_each_shell_gets_a_script(shell, marker):
    assert marker in ask(_MASKHOG_COMPLETE=f"{shell}_source")


def complete(words):
    """What bash would offer after ``words`` (the last one being typed)."""
    out = ask(_MASKHOG_COMPLETE="bash_complete", COMP_WORDS=" ".join(words), COMP_CWORD=str(len(words) - 1))
    return [line.split(",", 1)[1] for line in out.splitlines()]


def test_commands_options_and_choices_complete():
    assert complete(["maskhog", "pre"]) == ["predict"]
    assert set(complete(["maskhog", "d"])) == {"detect", "doctor"}
    assert complete(["maskhog", "predict", "--min"]) == ["--min-face"]
    assert complete(["maskhog", "predict", "--stage", ""]) == ["svm", "cnn", "cascade"]
    assert complete(["maskhog", "config", "show", "train"]) == ["train", "train-cnn", "train-detector"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash here")
def test_bash_takes_the_script():
    script = ask(_MASKHOG_COMPLETE="bash_source")
    done = subprocess.run(["bash", "-c", f"{script}\ncomplete -p maskhog"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and "_maskhog_completion" in done.stdout
