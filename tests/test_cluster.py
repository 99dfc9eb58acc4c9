"""Prediction and training's face cutting on a real Dask cluster of two worker processes.

One ``LocalCluster`` on 127.0.0.1 serves the module: its workers are separate
processes, reached over TCP the way a cluster of machines is. Every result
is checked against the same work done in one process.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

distributed = pytest.importorskip("distributed", reason="needs Dask: pip install 'maskhog[dask]'")

from maskhog import __version__  # noqa: E402
from maskhog.cli import main  # noqa: E402
from maskhog.cluster import ClusterError, connect  # noqa: E402
from maskhog.io.demo import demo_images  # noqa: E402

IMAGES = 200


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=":0") as local:
        yield local


@pytest.fixture(scope="module")
def client(cluster):
    with connect(cluster.scheduler_address) as c:
        yield c


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    """200 different real photos from the two demo images (shifted, mirrored, scaled),
    and one broken file among them."""
    root = tmp_path_factory.mktemp("variants")
    for k in range(IMAGES):
        image = demo_images()[k % 2][1][k % 5:, (k // 2) % 7:]
        if k % 3 == 1:
            image = image[:, ::-1]
        if k % 4 == 3:
            image = cv2.resize(image, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(root / f"{k:03d}.png"), image)
    (root / "100_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return root


@pytest.fixture(scope="module")
def one_process(variants):
    """``maskhog predict`` of the folder in this process."""
    result = CliRunner().invoke(main, ["predict", str(variants)])
    assert result.exit_code == 3, result.output   # the broken file
    return result


def test_predict_on_the_cluster_equals_one_process(cluster, variants, one_process):
    result = CliRunner().invoke(main, ["predict", str(variants), "--cluster", cluster.scheduler_address])
    assert result.exit_code == 3, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == IMAGES and sum(len(r["faces"]) for r in records) >= IMAGES * 0.9
    assert result.stdout == one_process.stdout
    assert "100_broken.png" in result.stderr and f"{IMAGES} images read, 1 failed" in result.stderr


def test_predict_on_the_cluster_equals_one_process_on_shared_photos(cluster, shared):
    """Scene photos (several faces, masked and not) and close-ups, as shipped in ../shared."""
    scenes = sorted((shared / "scenes" / "images").iterdir())[:50]
    faces = sorted((shared / "faces" / "with_mask").iterdir())[:50] + sorted(
        (shared / "faces" / "without_mask").iterdir())[:50]
    paths = [str(p) for p in scenes + faces]
    here = CliRunner().invoke(main, ["predict", *paths])
    there = CliRunner().invoke(main, ["predict", *paths, "--cluster", cluster.scheduler_address])
    assert here.exit_code == there.exit_code == 0, there.output
    assert len(there.stdout.splitlines()) == len(paths) and there.stdout == here.stdout


def test_images_sent_as_bytes_give_what_paths_give(cluster, client, variants, one_process):
    """--send-images: this process reads each file and the workers decode its contents.
    Given under names that exist on no machine, the images can only come as bytes."""
    from maskhog.batch import run_batch
    from maskhog.classify import make_classifier
    from maskhog.detect import make_detector
    from maskhog.io import ImageBytes, read_bytes
    from maskhog.pipeline import MaskDetector

    result = CliRunner().invoke(main, ["predict", str(variants), "--cluster", cluster.scheduler_address,
                                       "--send-images"])
    assert result.exit_code == 3, result.output
    assert result.stdout == one_process.stdout
    assert "100_broken.png" in result.stderr and f"{IMAGES} images read, 1 failed" in result.stderr

    paths = sorted(variants.iterdir())[:12]
    work = MaskDetector(make_detector(), make_classifier()).detect
    here = [d.result for d in run_batch(((p.name, str(p)) for p in paths), work)]
    sent = ((f"/nowhere/{p.name}", ImageBytes(f"/nowhere/{p.name}", read_bytes(p).data)) for p in paths)
    there = list(run_batch(sent, work, cluster=client))
    assert [d.error for d in there] == [None] * 12
    assert [[f.to_dict() for f in d.result] for d in there] == [[f.to_dict() for f in r] for r in here]


def test_send_images_needs_a_cluster():
    result = CliRunner().invoke(main, ["predict", "--demo", "--send-images"])
    assert result.exit_code == 2 and "give --cluster too" in result.output


def test_annotated_images_come_back_from_the_workers(cluster, tmp_path):
    out = tmp_path / "drawn"
    result = CliRunner().invoke(main, ["predict", "--demo", "--annotate", str(out), "--cluster",
                                       cluster.scheduler_address])
    assert result.exit_code == 0, result.output
    here = CliRunner().invoke(main, ["predict", "--demo", "--annotate", str(tmp_path / "here")])
    assert result.stdout == here.stdout
    for name in ("astronaut_scikit-image_.jpg", "astronaut_with_a_drawn_mask.jpg"):
        assert np.array_equal(cv2.imread(str(out / name)), cv2.imread(str(tmp_path / "here" / name)))


def test_face_cutting_for_training_on_the_cluster_equals_one_process(client, texture_folders):
    from maskhog.crops import CropSpec
    from maskhog.training.augment import Augment
    from maskhog.training.data import load_dataset
    from maskhog.training.faces import face_crops, face_finder

    whole = load_dataset(texture_folders)
    data = whole.subset(range(0, len(whole), 3))   # 67 patches of both classes
    spec, finder = CropSpec(size=48, color=True), face_finder()
    kwargs = dict(detector=finder, augment=Augment(copies=1), seed=3, also=(CropSpec(size=32),))
    here = face_crops(data, spec, n_jobs=1, **kwargs)
    there = face_crops(data, spec, cluster=client, **kwargs)
    assert len(here.labels) > len(data) and "augmented" in here.origin   # copies were made
    assert np.array_equal(there.crops, here.crops) and np.array_equal(there.also[0], here.also[0])
    for key in ("labels", "groups", "origin"):
        assert np.array_equal(getattr(there, key), getattr(here, key))
    assert there.sources == here.sources


def test_train_takes_the_cluster_and_makes_the_same_model(cluster, texture_folders, tmp_path):
    from maskhog.classify import MaskClassifier

    models = []
    for name, more in (("here", []), ("there", ["--cluster", cluster.scheduler_address])):
        out = tmp_path / f"{name}.npz"
        result = CliRunner().invoke(main, ["train", str(texture_folders), "--out", str(out), "--size", "32",
                                           "--augment", "1", "--faces", "whole", *more])
        assert result.exit_code == 0, result.output
        models.append(MaskClassifier.load(out))
    here, there = models
    for key in ("coef", "intercept", "calib_a", "calib_b"):
        assert np.array_equal(getattr(here, key), getattr(there, key))
    assert np.array_equal(here.gray.coef, there.gray.coef)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_scheduler_is_a_usage_error_within_seconds():
    address = f"tcp://127.0.0.1:{_free_port()}"   # nothing listens there
    start = time.monotonic()
    result = CliRunner().invoke(main, ["predict", "--demo", "--cluster", address])
    assert time.monotonic() - start < 8
    assert result.exit_code == 2 and f"no Dask scheduler answers at {address}" in result.output
    assert result.stdout == ""   # no record, no half document
    result = CliRunner().invoke(main, ["predict", "--demo", "--cluster", "scheduler-without-port"])
    assert result.exit_code == 2 and "not a scheduler address" in result.output


def test_jobs_and_cluster_do_not_go_together(cluster):
    result = CliRunner().invoke(main, ["predict", "--demo", "--jobs", "2", "--cluster", cluster.scheduler_address])
    assert result.exit_code == 2 and "give one" in result.output


def test_a_scheduler_without_workers_is_said_so():
    with distributed.LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=":0") as empty:
        with pytest.raises(ClusterError, match="has no workers"):
            connect(empty.scheduler_address, timeout=1)


def test_workers_with_another_maskhog_version_are_refused(tmp_path):
    # A worker process that reports another version, as one installed from another release would.
    preload = tmp_path / "other_release.py"
    preload.write_text("import maskhog\nmaskhog.__version__ = '0.0.1'\n")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=":0", preload=[str(preload)]) as other:
        with pytest.raises(ClusterError, match=rf"needs maskhog {__version__}.* has maskhog 0\.0\.1"):
            connect(other.scheduler_address)
        result = CliRunner().invoke(main, ["predict", "--demo", "--cluster", other.scheduler_address])
        assert result.exit_code == 2 and "has maskhog 0.0.1" in result.output


def test_a_worker_killed_mid_run_loses_and_doubles_nothing(cluster, client, variants, one_process):
    """``kill -9`` of one of the two workers while both are busy: its parts run again on
    the other (and on the worker its nanny starts), and each input comes out once, in order."""
    pids = client.run(os.getpid)
    victim = sorted(pids)[0]
    # Unbuffered: a buffered reader's readline takes more of the pipe than one line, and
    # communicate() below reads the pipe itself, past what that reader holds.
    proc = subprocess.Popen([sys.executable, "-m", "maskhog", "predict", str(variants), "--cluster",
                             cluster.scheduler_address], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            bufsize=0)
    first = [proc.stdout.readline().decode() for _ in range(40)]
    deadline = time.monotonic() + 5
    while not client.processing()[victim] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert client.processing()[victim], "the worker to kill has no part to lose"
    os.kill(pids[victim], signal.SIGKILL)
    rest, err = (out.decode() for out in proc.communicate(timeout=60))
    assert proc.returncode == 3, err
    assert "".join(first) + rest == one_process.stdout   # each input once, in input order
    client.wait_for_workers(2, timeout=30)   # the nanny started a new worker...
    assert victim not in client.run(os.getpid)   # ...in place of the one killed
