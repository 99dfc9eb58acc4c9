"""Progress, -q/-v and summary lines of the long commands, through the command line."""

import json
import os
import pty
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from maskhog import progress
from maskhog.cli import main


@pytest.fixture
def every_step(monkeypatch):
    """A progress line at every step, not every few seconds, so a short run shows them."""
    monkeypatch.setattr(progress, "INTERVAL", 0.0)


@pytest.fixture(scope="module")
def model(tmp_path_factory, texture_folders):
    path = tmp_path_factory.mktemp("model") / "m.npz"
    result = CliRunner().invoke(main, ["train", str(texture_folders), "--out", str(path), "--size", "48",
                                       "--augment", "0", "--faces", "whole"])
    assert result.exit_code == 0, result.output
    return path


def evaluate(texture_folders, model, *flags):
    result = CliRunner().invoke(main, [*flags, "evaluate", str(texture_folders), "--model", str(model),
                                       "--faces", "whole"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accuracy"] >= 0.9   # stdout stays data only
    return result.stderr


def test_evaluate_in_a_log_prints_lines_and_a_summary(texture_folders, model, every_step):
    err = evaluate(texture_folders, model)
    assert "\r" not in err   # a log, not a redrawn bar
    counts = [int(n) for n in re.findall(r"^maskhog: evaluating: (\d+)/200", err, re.M)]
    assert counts == sorted(counts) and counts[-1] == 200 and len(counts) >= 2
    assert "maskhog: evaluating: 200/200 (100%)" in err
    summary = re.search(r"maskhog: (\d+) images read, (\d+) failed; faces: (\d+) with_mask, (\d+) without_mask; "
                        r"[\d.]+ s, [\d.]+ images/s", err)
    assert summary and summary.groups() == ("200", "0", "100", "100")


def test_quiet_is_silent_and_verbose_times_each_stage(texture_folders, model, every_step):
    assert evaluate(texture_folders, model, "-q") == ""
    err = evaluate(texture_folders, model, "--verbose")
    for name in ("reading the folders", "evaluating", "classifying"):
        assert re.search(rf"^maskhog: {name} took \d+\.\d\d s$", err, re.M), name
    result = CliRunner().invoke(main, ["-q", "-v", "doctor"])
    assert result.exit_code == 2 and "do not go together" in result.output


def test_train_shows_its_stages(tmp_path, texture_folders):
    result = CliRunner().invoke(main, ["-v", "train", str(texture_folders), "--out", str(tmp_path / "m.npz"),
                                       "--size", "48", "--augment", "0", "--faces", "whole"])
    assert result.exit_code == 0, result.output
    for part in ("train", "validation", "test"):
        assert re.search(rf"^maskhog: cropping {part} faces: \d+/\d+ \(100%\)", result.stderr, re.M)
    for name in ("reading the folders", "describing the faces", "choosing C and calibrating"):
        assert re.search(rf"^maskhog: {name} took \d+\.\d\d s$", result.stderr, re.M), name


def test_a_terminal_gets_a_bar():
    """On a real pseudo-terminal, stderr shows click's bar, redrawn in place."""
    code = ("import time; from maskhog import progress\n"
            "with progress.bar(4, 'working') as bar:\n"
            "    for _ in range(4):\n"
            "        time.sleep(0.05); bar.update(1)\n")
    leader, follower = pty.openpty()
    try:
        child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=follower)
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:   # the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        assert child.wait(timeout=30) == 0
    finally:
        os.close(leader)
    text = shown.decode()
    assert "working" in text and "100%" in text and "\r" in text and "#" in text


def test_train_detector_counts_its_parts(astronaut_scenes, tmp_path, capsys, every_step):
    from maskhog.training.detector import train_detector

    progress.configure(verbose=True)
    try:
        recipe = (("tiny.svm", {"window": 40, "C": 100.0, "ctx_side": 320, "paste": 0}),)
        records = train_detector([astronaut_scenes], out_dir=tmp_path, recipe=recipe, max_runtime=60,
                                 cnn_verifier=False, progress_factory=progress.bar, log_fn=lambda m: None)
    finally:
        progress.configure()
    assert list(records) == ["tiny.svm"] and (tmp_path / "tiny.svm").is_file()
    err = capsys.readouterr().err
    # One part only: an incomplete recipe trains no verifier.
    assert "maskhog: training the detector: 1/1 (100%)" in err
    assert re.search(r"^maskhog: templates took \d+\.\d\d s$", err, re.M)
