"""The command line through click's CliRunner, and its start-up cost."""

import json
import subprocess
import sys

import numpy as np
from click.testing import CliRunner

from maskhog import __version__
from maskhog.cli import main


def test_version_and_help():
    runner = CliRunner()
    assert runner.invoke(main, ["--version"]).output.strip() == f"maskhog, version {__version__}"
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0 and "features" in result.output


def test_help_does_not_import_the_heavy_libraries():
    code = ("import sys; from maskhog.cli import main; "
            "print(sorted(m for m in ('cv2', 'sklearn', 'skimage', 'dlib', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_features_demo_and_files(tmp_path, photos):
    import cv2
    good = tmp_path / "face.png"
    cv2.imwrite(str(good), photos["astronaut"][20:230, 150:330])
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    out = tmp_path / "f.npy"
    result = CliRunner().invoke(main, ["features", "--demo", str(good), str(bad), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["image"] for r in lines] == ["astronaut (scikit-image)", str(good)]
    assert all(r["length"] == 1924 for r in lines)
    assert "skipped" in result.stderr and "broken.jpg" in result.stderr
    assert np.load(out).shape == (2, 1924)


def test_features_usage_errors(tmp_path):
    runner = CliRunner()
    assert runner.invoke(main, ["features"]).exit_code == 2
    bad = tmp_path / "x.png"
    bad.write_text("nope")
    result = runner.invoke(main, ["features", str(bad)])
    assert result.exit_code == 1 and "no readable image" in result.output
