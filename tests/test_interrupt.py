"""Stopping a long ``predict`` midway: what was done is kept, and no process is left behind.

Each test runs the real command in a subprocess over a folder of real photos and
stops it the way a user or a service manager would: SIGTERM, or ``kill -9``.
"""

import json
import os
import signal
import subprocess
import sys
import time

import cv2
import pytest

from maskhog.io.demo import demo_images

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

IMAGES = 60
ROUNDS = 5   # the folder given five times: a run of about ten seconds on 2 cores


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Sixty real photos: the two demo images, shifted so no two are the same."""
    root = tmp_path_factory.mktemp("many")
    for k in range(IMAGES):
        image = demo_images()[k % 2][1]
        cv2.imwrite(str(root / f"{k:03d}.png"), image[:, k % 7:])
    return root


def _descendants(pid):
    """Every process below ``pid``, from /proc (workers hang under a fork server)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as f:
                    kids = [int(x) for x in f.read().split()]
            except FileNotFoundError:
                continue
            found += kids
            todo += kids
    return found


def _running(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _start(folder, *args):
    """``maskhog predict`` on the folder; returns the process once its first record is out.

    The pipes are unbuffered: a buffered reader's readline takes more than one line from
    the pipe, and ``communicate`` (:func:`_finish`) would not see what that reader holds."""
    proc = subprocess.Popen([sys.executable, "-m", "maskhog", "predict", *[str(folder)] * ROUNDS, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    first = proc.stdout.readline().decode() if "json" not in args else ""
    return proc, first


def _finish(proc, timeout):
    """The rest of the process's stdout and its stderr, as text, once it has exited."""
    out, err = proc.communicate(timeout=timeout)
    return out.decode(), err.decode()


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_sigterm_keeps_each_record_done_and_stops_the_workers(folder, jobs):
    proc, first = _start(folder, "--jobs", jobs)
    assert first, proc.stderr.read().decode()
    workers = _descendants(proc.pid)
    assert len(workers) >= (2 if jobs == "2" else 0)
    proc.send_signal(signal.SIGTERM)
    rest, err = _finish(proc, 20)
    assert proc.returncode == 143, err
    records = [json.loads(line) for line in (first + rest).splitlines()]   # whole lines only
    assert 1 <= len(records) < IMAGES * ROUNDS
    names = sorted(str(p) for p in folder.iterdir()) * ROUNDS
    assert [r["image"] for r in records] == names[:len(records)]   # in input order
    deadline = time.monotonic() + 5
    while any(_running(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_running(w) for w in workers)


def test_sigterm_still_writes_the_json_document(folder):
    proc, _ = _start(folder, "--format", "json", "--jobs", "2")
    proc.stderr.readline()   # the command is up (it names the CNN's backend)...
    time.sleep(1.5)          # ...and has done some records
    proc.send_signal(signal.SIGTERM)
    out, err = _finish(proc, 20)
    assert proc.returncode == 143, err
    records = json.loads(out)   # a whole document, not half of one
    assert 1 <= len(records) < IMAGES * ROUNDS


def test_workers_of_a_killed_predict_exit_at_once(folder):
    proc, first = _start(folder, "--jobs", "2")
    assert first
    workers = _descendants(proc.pid)
    assert len(workers) >= 2
    proc.kill()   # SIGKILL: no cleanup runs in the parent
    proc.communicate()
    deadline = time.monotonic() + 5
    while any(_running(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_running(w) for w in workers), "worker processes outlived a killed predict"
