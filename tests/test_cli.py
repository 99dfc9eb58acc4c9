"""The command line through click's CliRunner, and its start-up cost."""

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from maskhog import __version__
from maskhog.boxes import iou
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


def test_augment_help_states_the_cap_augment_applies():
    # The help cannot read Augment (that would import numpy at start-up), so it repeats the cap.
    from maskhog.training.augment import Augment

    for command in ("train", "train-cnn"):
        text = " ".join(CliRunner().invoke(main, [command, "--help"]).output.split())
        assert f"up to {Augment().max_copies} (0: none)" in text


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


def test_train_evaluate_predict_round_trip(tmp_path, texture_folders):
    runner = CliRunner()
    model = tmp_path / "m.npz"
    result = runner.invoke(main, ["train", str(texture_folders), "--out", str(model), "--size", "48",
                                  "--augment", "1", "--faces", "whole"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["classes"] == ["with_mask", "without_mask"] and summary["test_accuracy"] >= 0.9
    assert "cropping train faces" in result.stderr          # the progress bar is on stderr
    from maskhog.classify import MaskClassifier
    trained = MaskClassifier.load(model)    # colour cues by default, with the gray fallback
    assert trained.crop.color and "color" in trained.features and trained.gray is not None
    result = runner.invoke(main, ["train", str(texture_folders), "--out", str(tmp_path / "x.npz"),
                                  "--clahe"])
    assert result.exit_code == 2 and "use it with --gray" in result.output

    report = tmp_path / "report"
    result = runner.invoke(main, ["evaluate", str(texture_folders), "--model", str(model),
                                  "--faces", "whole", "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accuracy"] >= 0.9
    assert (report / "confusion_matrix.png").is_file()

    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"junk")
    result = runner.invoke(main, ["evaluate", str(texture_folders), "--model", str(bad)])
    assert result.exit_code == 1 and "not a readable maskhog model" in result.output


def test_predict_demo_finds_the_astronaut_with_and_without_mask():
    result = CliRunner().invoke(main, ["predict", "--demo"])
    assert result.exit_code == 0, result.output
    bare, masked = (json.loads(line) for line in result.stdout.splitlines())
    (face,) = bare["faces"]
    assert face["label"] == "without_mask" and face["score"] > 0.5
    x1, y1, x2, y2 = face["box"]
    assert 150 < x1 < 200 and 50 < y1 < 110 and x2 - x1 > 60     # her face, not the background
    # The copy with a mask drawn on: maskhog's detector still finds the face
    # (dlib's stock one does not), and the classifier sees a mask on it.
    (face,) = masked["faces"]
    assert 150 < face["box"][0] < 200 and face["label"] != "without_mask"
    stock = CliRunner().invoke(main, ["predict", "--demo", "--detector", "dlib", "--upsample", "1"])
    assert json.loads(stock.stdout.splitlines()[1])["faces"] == []


def test_predict_min_face_drops_faces_smaller_than_asked():
    kept = CliRunner().invoke(main, ["predict", "--demo", "--min-face", "40"])
    dropped = CliRunner().invoke(main, ["predict", "--demo", "--min-face", "200"])
    assert kept.exit_code == dropped.exit_code == 0
    sides = [min(f["box"][2] - f["box"][0], f["box"][3] - f["box"][1])
             for line in kept.stdout.splitlines() for f in json.loads(line)["faces"]]
    assert len(sides) == 2 and all(40 <= s < 200 for s in sides)   # her face is about 80 px
    assert all(json.loads(line)["faces"] == [] for line in dropped.stdout.splitlines())


def test_predict_reports_bad_files_and_writes_csv(tmp_path, photos):
    import cv2
    good = tmp_path / "a.png"
    cv2.imwrite(str(good), photos["astronaut"])
    bad = tmp_path / "b.jpg"
    bad.write_bytes(b"")
    result = CliRunner().invoke(main, ["predict", str(good), str(bad), "--format", "csv"])
    assert result.exit_code == 3   # some inputs failed, the others are done
    rows = result.stdout.strip().splitlines()
    assert rows[0] == "image,face,x1,y1,x2,y2,label,score,stage" and rows[1].startswith(str(good))
    assert "b.jpg: empty file" in result.stderr
    assert "1 images read, 1 failed; faces: 1 without_mask" in result.stderr


def test_detect_prints_boxes_per_image(tmp_path, photos):
    import cv2
    face = tmp_path / "astronaut.png"
    cv2.imwrite(str(face), photos["astronaut"])
    from skimage import data

    empty = tmp_path / "moon.png"   # a real photo with no face
    cv2.imwrite(str(empty), data.moon())
    profile = tmp_path / "camera.png"   # the cameraman's face in profile, his eye at the camera
    cv2.imwrite(str(profile), photos["camera"])
    bad = tmp_path / "bad.jpg"
    bad.write_text("x")
    result = CliRunner().invoke(main, ["detect", str(face), str(empty), str(profile), str(bad)])
    assert result.exit_code == 3, result.output   # one input unreadable, the others done
    first, second, third = (json.loads(line) for line in result.stdout.splitlines())
    (box,) = first["faces"]
    assert 160 < box["box"][0] < 190 and second == {"image": str(empty), "faces": []}
    # Found only in the mirror image (the last of predict's later looks), boxed in the photo's pixels.
    (box,) = third["faces"]
    x1, y1, x2, y2 = box["box"]
    assert 195 < x1 < 225 and 115 < y1 < 145 and 35 < x2 - x1 < 70
    # A gray photo leaves the verifier no colour to judge: YuNet's own score keeps the face in
    # the first look (face_yunet.json's alone_threshold), where the later looks' box lies.
    quick = CliRunner().invoke(main, ["detect", str(profile), "--no-later-looks"])
    (first_look,) = json.loads(quick.stdout)["faces"]
    assert quick.exit_code == 0 and iou(first_look["box"], box["box"]) > 0.5
    assert "bad.jpg" in result.stderr
    assert "3 images read, 1 failed; faces: 2 found" in result.stderr
    nothing = CliRunner().invoke(main, ["detect", str(bad)])
    assert nothing.exit_code == 1 and "no readable image" in nothing.stderr
    csv_run = CliRunner().invoke(main, ["detect", str(face), str(profile), "--format", "csv"])
    assert b"\r" not in csv_run.stdout_bytes   # one line ending throughout
    rows = csv_run.stdout.splitlines()
    assert rows[0] == "image,face,x1,y1,x2,y2,score" and rows[1].startswith(f"{face},0,")
    assert rows[2].startswith(f"{profile},0,")


def test_predict_takes_folders_patterns_and_stdin_and_gates_on_labels(tmp_path, photos):
    import cv2
    folder = tmp_path / "shots" / "day1"
    folder.mkdir(parents=True)
    cv2.imwrite(str(folder / "a.png"), photos["astronaut"])
    cv2.imwrite(str(tmp_path / "shots" / "b.jpg"), photos["camera"])
    (tmp_path / "shots" / "notes.txt").write_text("not an image")
    runner = CliRunner()

    by_folder = runner.invoke(main, ["predict", str(tmp_path / "shots")])
    assert [json.loads(x)["image"] for x in by_folder.stdout.splitlines()] == [
        str(tmp_path / "shots" / "b.jpg"), str(folder / "a.png")]
    by_pattern = runner.invoke(main, ["predict", str(tmp_path / "shots" / "**" / "*.png")])
    assert [json.loads(x)["image"] for x in by_pattern.stdout.splitlines()] == [str(folder / "a.png")]
    by_stdin = runner.invoke(main, ["predict", "-"], input=f"{folder / 'a.png'}\n\n")
    (record,) = [json.loads(x) for x in by_stdin.stdout.splitlines()]
    assert record["faces"][0]["label"] == "without_mask"

    # A gate: the astronaut wears no mask, so --fail-on no_mask exits 1.
    gate = runner.invoke(main, ["predict", str(folder / "a.png"), "--fail-on", "no_mask"])
    assert gate.exit_code == 1 and "without_mask" in gate.stderr
    assert runner.invoke(main, ["predict", str(folder / "a.png"), "--fail-on", "incorrect_mask"]).exit_code == 0
    assert runner.invoke(main, ["predict", str(folder / "a.png"), "--fail-on", "helmet"]).exit_code == 2


def test_predict_annotate_draws_boxes(tmp_path):
    out = tmp_path / "annotated"
    result = CliRunner().invoke(main, ["predict", "--demo", "--annotate", str(out), "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in out.iterdir())
    assert files == ["astronaut_scikit-image_.jpg", "astronaut_with_a_drawn_mask.jpg"]
    import cv2
    drawn = cv2.imread(str(out / files[0]))
    (face,) = json.loads(result.stdout.splitlines()[0])["faces"]
    x1, y1, x2, _ = face["box"]
    # The without_mask box is red (BGR) along its top edge.
    assert face["label"] == "without_mask"
    assert drawn[y1, (x1 + x2) // 2, 2] > 200 and drawn[y1, (x1 + x2) // 2, 0] < 80


def test_predict_video_frames_and_parallel_jobs(tmp_path, photos):
    import cv2
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (512, 512))
    frame = cv2.cvtColor(photos["astronaut"], cv2.COLOR_GRAY2BGR)
    for k in range(7):
        writer.write(np.roll(frame, 20 * k, axis=1))    # the face drifts right
    writer.release()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 100)
    runner = CliRunner()
    serial = runner.invoke(main, ["predict", str(video), str(broken), "--every", "3"])
    assert serial.exit_code == 3, serial.output   # the broken one failed
    records = [json.loads(x) for x in serial.stdout.splitlines()]
    assert [r["image"] for r in records] == [f"{video}#frame={k}" for k in (0, 3, 6)]
    xs = [r["faces"][0]["box"][0] for r in records]
    assert xs[0] < xs[1] < xs[2] and all(r["faces"][0]["label"] == "without_mask" for r in records)
    assert "broken.mp4" in serial.stderr
    parallel = runner.invoke(main, ["predict", str(video), str(broken), "--every", "3", "--jobs", "2"])
    assert parallel.exit_code == 3 and parallel.stdout == serial.stdout


def test_predict_annotates_a_video_with_every_frame_and_the_faces_held_between_looks(tmp_path, photos):
    import cv2
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (512, 512))
    frame = cv2.cvtColor(photos["astronaut"], cv2.COLOR_GRAY2BGR)
    for k in range(7):
        writer.write(np.roll(frame, 20 * k, axis=1))
    writer.release()
    out = tmp_path / "annotated"
    result = CliRunner().invoke(main, ["predict", str(video), "--every", "3", "--annotate", str(out)])
    assert result.exit_code == 0, result.output
    boxes = {int(r["image"].rsplit("=", 1)[1]): r["faces"][0]["box"]
             for r in map(json.loads, result.stdout.splitlines())}
    cap = cv2.VideoCapture(str(out / "clip.mkv"))
    assert cap.get(cv2.CAP_PROP_FPS) == 10
    frames = []
    while (got := cap.read())[0]:
        frames.append(got[1])
    assert len(frames) == 7   # every frame, not only those looked at

    def red_top(image, box):
        x1, y1, x2, _ = box
        b, _, r = image[y1, (x1 + x2) // 2].astype(int)
        return r > 180 and b < 110

    # Frames 1 and 2 hold frame 0's box; frame 3 has its own, 60 px to the right.
    assert all(red_top(frames[k], boxes[0]) for k in (0, 1, 2))
    assert red_top(frames[3], boxes[3]) and not red_top(frames[3], boxes[0])
    assert red_top(frames[6], boxes[6])


def test_running_needs_no_training_extras_and_training_names_the_one_to_install(tmp_path):
    """`pip install .` has neither scikit-learn nor matplotlib: predict and detect must run
    without them, and a training command must say which extra to install."""
    block = ("import sys; sys.modules.update(sklearn=None, matplotlib=None); "
             "from maskhog.cli import main; sys.argv = ['maskhog'] + sys.argv[1:]; main()")
    # From another folder: `python -c` would otherwise import the uncompiled source tree.
    out = subprocess.run([sys.executable, "-c", block, "predict", "--demo"], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    labels = [json.loads(line)["faces"][0]["label"] for line in out.stdout.splitlines()]
    assert labels == ["without_mask", "with_mask"]
    (tmp_path / "with_mask").mkdir()
    out = subprocess.run([sys.executable, "-c", block, "train", str(tmp_path), "--out", str(tmp_path / "m.npz")],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 1 and "pip install 'maskhog[train]'" in out.stderr


# The default detector, and the classical path (--detector hog), whose output must not move.
RECORDINGS = [("", []), ("_hog", ["--detector", "hog"])]


@pytest.mark.parametrize("suffix, args", RECORDINGS)
def test_predict_gives_the_recorded_output(suffix, args):
    """The JSON lines of the demo and of three scene photos, as recorded (tests/data/README.md)."""
    from pathlib import Path

    data = Path(__file__).with_name("data")
    result = CliRunner().invoke(main, ["predict", "--demo", *args])
    assert result.exit_code == 0 and result.stdout == (data / f"predict_demo{suffix}.jsonl").read_text()


@pytest.mark.parametrize("suffix, args", RECORDINGS)
def test_predict_gives_the_recorded_output_on_scene_photos(shared, suffix, args):
    from pathlib import Path

    data = Path(__file__).with_name("data")
    images = shared / "scenes" / "images"
    expected = (data / f"predict_scenes{suffix}.jsonl").read_text().splitlines()
    names = [json.loads(line)["image"] for line in expected]
    result = CliRunner().invoke(main, ["predict", *args, *(str(images / n) for n in names)])
    got = [line.replace(str(images) + "/", "") for line in result.stdout.splitlines()]
    assert result.exit_code == 0 and got == expected


def test_warnings_name_the_input_they_concern(tmp_path, photos):
    """A panorama wider than the largest side searched is shrunk, and the warning says which file."""
    import cv2
    import numpy as np
    wide = np.zeros((300, 4500), np.uint8)   # the photos are gray
    wide[:, 2000:2512] = photos["astronaut"][:300]
    cv2.imwrite(str(tmp_path / "panorama.png"), wide)
    cv2.imwrite(str(tmp_path / "small.png"), photos["camera"])
    result = CliRunner().invoke(main, ["predict", str(tmp_path / "small.png"), str(tmp_path / "panorama.png")])
    assert result.exit_code == 0, result.output
    (warning,) = [line for line in result.stderr.splitlines() if "shrunk" in line]
    assert "panorama.png" in warning and "4500x300" in warning


def test_training_on_one_class_says_what_is_missing_before_any_cropping(tmp_path, texture_folders):
    import shutil
    shutil.copytree(texture_folders / "with_mask", tmp_path / "data" / "with_mask")
    import importlib.util
    with_torch = importlib.util.find_spec("torch") is not None
    for command in ("train", "train-cnn")[:1 + with_torch]:
        result = CliRunner().invoke(main, [command, str(tmp_path / "data"), "--out", str(tmp_path / "m")])
        assert result.exit_code == 1 and result.exception.__class__ is SystemExit, result.output
        assert "at least 2 classes" in result.stderr and "100 faces of with_mask" in result.stderr
        assert "without_mask" in result.stderr and "cropping" not in result.stderr
    assert not list(tmp_path.glob("m*"))


def test_predict_and_detect_show_progress_and_a_summary_unless_quiet(tmp_path, photos):
    import cv2
    for name in ("a", "b", "c"):
        cv2.imwrite(str(tmp_path / f"{name}.png"), photos["astronaut"])
    runner = CliRunner()
    for command, label in (("predict", "predicting"), ("detect", "detecting")):
        shown = runner.invoke(main, [command, str(tmp_path)] if command == "predict"
                              else [command, *map(str, sorted(tmp_path.glob("*.png")))])
        assert shown.exit_code == 0, shown.output
        assert f"{label}: 3/3 (100%)" in shown.stderr and "3 images read, 0 failed" in shown.stderr
        quiet = runner.invoke(main, ["-q", command, str(tmp_path / "a.png")])
        assert quiet.exit_code == 0 and quiet.stderr == "" and len(quiet.stdout.splitlines()) == 1
