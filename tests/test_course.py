"""The course's example scripts (examples/course_*.py) run, and write the figures its pages show."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted((ROOT / "examples").glob("course_0*.py"))
PAGES = sorted((ROOT / "docs" / "course").glob("0*.md"))

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")


def _figures_named(page: Path) -> set:
    return set(re.findall(r"figures/([\w.-]+\.png)", page.read_text()))


def test_every_example_runs_and_writes_the_figures_its_page_shows(tmp_path):
    if not SCRIPTS:
        pytest.skip("no examples/ folder beside these tests (an installed package)")
    assert len(SCRIPTS) == len(PAGES) >= 6
    env = dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS="2")
    env.pop("PYTHONSAFEPATH", None)   # the scripts import their neighbour course_faces.py
    start = time.perf_counter()
    for script in SCRIPTS:
        out = tmp_path / script.stem
        done = subprocess.run([sys.executable, str(script), "--out", str(out)], capture_output=True, text=True,
                              env=env, timeout=60)
        assert done.returncode == 0, f"{script.name}:\n{done.stderr[-2000:]}"
        written = {p.name for p in out.glob("*.png")}
        page = next(p for p in PAGES if p.name[:2] == script.stem[7:9])
        assert _figures_named(page) <= written, f"{page.name} shows figures {script.name} does not write"
        for png in out.glob("*.png"):
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size <= 200_000, png.name
    assert time.perf_counter() - start < 60, "the course's examples must run within 60 s on 2 cores"


def test_committed_figures_are_small_and_each_is_shown():
    figures = ROOT / "docs" / "course" / "figures"
    if not figures.is_dir():
        pytest.skip("no docs/course beside these tests")
    shown = set().union(*(_figures_named(p) for p in PAGES))
    committed = {p.name for p in figures.glob("*.png")}
    assert shown == committed
    assert all((figures / name).stat().st_size <= 200_000 for name in committed)
