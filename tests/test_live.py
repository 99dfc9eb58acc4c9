"""maskhog live on a generated video: the event sequence, and failing sources."""

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from maskhog.cli import main
from maskhog.io.demo import demo_images
from maskhog.live import Track


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """10 frames of the astronaut, 10 empty, 10 of her with a drawn mask, 10 empty."""
    (_, bare), (_, masked) = demo_images()
    blank = np.full_like(bare, 128)
    path = tmp_path_factory.mktemp("video") / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, bare.shape[1::-1])
    for frame in [bare] * 10 + [blank] * 10 + [masked] * 10 + [blank] * 10:
        writer.write(frame)
    writer.release()
    return path


def test_live_headless_reports_people_coming_and_going(clip):
    result = CliRunner().invoke(main, ["live", str(clip), "--headless", "--detect-every", "2", "--stats"])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["event"], e["label"]) for e in events] == [
        ("appeared", "without_mask"), ("left", "without_mask"),
        ("appeared", "with_mask"), ("left", "with_mask")]
    assert events[0]["frame"] == 0 and 10 <= events[1]["frame"] < 20
    assert 20 <= events[2]["frame"] < 22 and events[2]["track_id"] == 2
    stats = json.loads(result.stderr.strip().splitlines()[-1])
    assert stats["frames"] == 40 and stats["fps"] > 0 and stats["latency_ms_p95"] >= stats["latency_ms_p50"]


def test_live_with_the_cascade_and_the_low_power_knobs(clip):
    result = CliRunner().invoke(main, ["live", str(clip), "--headless", "--detect-every", "2",
                                       "--stage", "cascade", "--threads", "1", "--tracker", "correlation"])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["event"], e["label"]) for e in events] == [
        ("appeared", "without_mask"), ("left", "without_mask"),
        ("appeared", "with_mask"), ("left", "with_mask")]
    # Her face is about 80 px across: --min-face 200 ignores it, so nobody appears.
    result = CliRunner().invoke(main, ["live", str(clip), "--headless", "--min-face", "200"])
    assert result.exit_code == 0 and result.stdout == ""


def test_live_sources_that_fail_say_so(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(main, ["live", str(tmp_path / "nope.mp4")])
    assert missing.exit_code == 1 and "no such file" in missing.output
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 64)
    bad = runner.invoke(main, ["live", str(junk)])
    assert bad.exit_code == 1 and "cannot open" in bad.output
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no images" in runner.invoke(main, ["live", str(empty)]).output


def test_smoothing_needs_k_of_m_votes():
    t = Track(1, (0, 0, 1, 1), None)
    assert t.vote("with_mask", 0.9, 3, 5)          # the first verdict sets the label
    assert not t.vote("without_mask", 0.8, 3, 5)    # one dissenting frame: no flicker
    assert not t.vote("without_mask", 0.8, 3, 5)
    assert t.label == "with_mask"
    assert t.vote("without_mask", 0.8, 3, 5)        # the third of the last five wins
    assert t.label == "without_mask"


def test_the_window_sees_each_frame_with_its_people_and_can_stop_the_loop(clip):
    from maskhog.io.draw import COLOURS, draw_faces
    from maskhog.live import LiveConfig, run_live
    from maskhog.pipeline import MaskDetector

    seen = []

    everyone = []

    def on_frame(frame, tracks, fps):   # what the live window gets: stop after 10 frames
        everyone.append([t.id for t in tracks])
        tracks = [t for t in tracks if t.label]   # the window shows people once they have a verdict
        seen.append((frame.shape, [(t.label, t.box) for t in tracks], fps))
        shown = draw_faces(frame, tracks, f"{fps:.1f} fps")
        if tracks:   # her box is drawn in the colour of her label
            x1, y1, x2, y2 = tracks[0].box
            assert tuple(shown[(y1 + y2) // 2, x1]) == COLOURS[tracks[0].label]
            assert not np.array_equal(shown[:12, :40], frame[:12, :40])   # the caption
        return len(seen) < 10

    events = []
    stats = run_live(str(clip), MaskDetector(), config=LiveConfig(detect_every=2),
                     on_event=events.append, on_frame=on_frame)
    assert stats["frames"] == 10 and len(seen) == 10
    # She shows once her first verdict is in (the classifier runs on its own thread),
    # and from then on every frame shows her, unmasked.
    shown = [bool(labels) for _, labels, _ in seen]
    assert shown[-1] and shown == sorted(shown)
    assert all(labels == [("without_mask", labels[0][1])] for _, labels, _ in seen if labels)
    assert seen[-1][2] > 0
    # She is among the frame's people from the frame she is found on, verdict or not (snapshots
    # blur everyone in view).
    assert all(ids == [1] for ids in everyone)
    # Stopping early still ends the open track.
    assert [e["event"] for e in events] == ["appeared", "left"]


def test_live_without_a_gui_says_so_and_goes_on(clip):
    from maskhog.live.preview import Preview

    why = Preview.unavailable()
    if why is None:
        pytest.skip("this OpenCV could open a window here")
    result = CliRunner().invoke(main, ["live", str(clip), "--detect-every", "2"])
    assert result.exit_code == 0, result.output
    assert f"no window: {why}" in result.stderr
    assert len(result.stdout.splitlines()) == 4   # the same events as --headless


class _Counting:
    """The real pipeline, counting the faces sent to the classifier (from its thread)."""

    def __init__(self, fail=False):
        from maskhog.pipeline import MaskDetector

        self.inner, self.fail, self.asked = MaskDetector(second_look=False), fail, []

    def find_faces(self, frame, scale=1.0):
        return self.inner.find_faces(frame, scale)

    def classify(self, frame, boxes):
        self.asked.append(len(boxes))
        if self.fail:
            raise RuntimeError("classifier broke")
        return self.inner.classify(frame, boxes)


@pytest.mark.parametrize("recheck, asks", [(1, 20), (2, 10), (5, 4)])
def test_still_faces_are_classified_again_only_every_few_detections(clip, recheck, asks):
    from maskhog.live import LiveConfig, run_live

    pipeline, events = _Counting(), []
    run_live(str(clip), pipeline, config=LiveConfig(detect_every=1, recheck_every=recheck),
             on_event=events.append)
    # She sits still for 10 frames, twice: one verdict when she appears, then one per `recheck`.
    assert len(pipeline.asked) == asks and set(pipeline.asked) == {1}
    assert [(e["event"], e["label"]) for e in events] == [
        ("appeared", "without_mask"), ("left", "without_mask"),
        ("appeared", "with_mask"), ("left", "with_mask")]


def test_a_classifier_failure_stops_the_loop_with_its_error(clip):
    from maskhog.live import LiveConfig, run_live

    with pytest.raises(RuntimeError, match="classifier broke"):
        run_live(str(clip), _Counting(fail=True), config=LiveConfig(detect_every=1), on_event=print)


def test_live_asks_the_cnn_about_every_face_in_colour_by_default(clip, monkeypatch):
    # live judges a face only when its track appears, moves or is rechecked, so it affords the
    # CNN for all of them (LIVE_CASCADE_THRESHOLD); --cascade-threshold still overrides it.
    import maskhog.classify
    from maskhog import tuning

    made = []

    def spy(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    real = maskhog.classify.make_classifier
    monkeypatch.setattr(maskhog.classify, "make_classifier", spy)
    assert CliRunner().invoke(main, ["live", str(clip), "--headless"]).exit_code == 0
    assert made[-1].threshold == tuning.LIVE_CASCADE_THRESHOLD == 1.0
    assert made[-1].faces > 0 and made[-1].calls == made[-1].faces   # the astronaut is in colour
    assert CliRunner().invoke(main, ["live", str(clip), "--headless",
                                     "--cascade-threshold", "0.3"]).exit_code == 0
    assert made[-1].threshold == 0.3 and made[-1].calls == 0   # of three probabilities, one is >= 1/3


def test_periodic_stats_reach_their_callback(clip):
    from maskhog.live import LiveConfig, run_live
    from maskhog.pipeline import MaskDetector

    records = []
    run_live(str(clip), MaskDetector(), config=LiveConfig(stats_every=0.01), on_event=lambda e: None,
             on_stats=records.append)
    assert records and all(r["fps"] > 0 for r in records)
    assert [r["frames"] for r in records] == sorted(r["frames"] for r in records)


def test_retry_takes_a_count_or_forever(clip):
    runner = CliRunner()
    bad = runner.invoke(main, ["live", str(clip), "--headless", "--retry", "often"])
    assert bad.exit_code == 2 and "'often' is not a count of tries" in bad.output
    gone = runner.invoke(main, ["live", "rtsp://127.0.0.1:9/none", "--headless", "--retry", "0"])
    assert gone.exit_code == 1 and "cannot open this stream" in gone.output


def _frames(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            return frames, cap.get(cv2.CAP_PROP_FPS)
        frames.append(frame)


def test_live_records_what_the_window_shows_frame_by_frame_for_a_file(clip, tmp_path):
    out = tmp_path / "rec" / "live.mkv"
    result = CliRunner().invoke(main, ["live", str(clip), "--headless", "--detect-every", "2",
                                       "--record", str(out)])
    assert result.exit_code == 0, result.output
    frames, fps = _frames(out)
    assert len(frames) == 40 and fps == 10   # every frame of the clip, at its rate
    appeared = json.loads(result.stdout.splitlines()[0])
    x1, y1, x2, _ = appeared["box"]
    # Frame 5 shows her bare face in a red (BGR) box; the empty frame 15 shows no box.
    top = frames[5][y1, (x1 + x2) // 2].astype(int)
    assert top[2] > 180 and top[0] < 110, top
    assert np.abs(frames[15][y1, (x1 + x2) // 2].astype(int) - 128).max() < 40
    assert "40 frames recorded" in result.stderr


def test_a_camera_recording_keeps_the_clock():
    """A camera is recorded by the clock: a busy moment repeats the last frame, a fast one drops."""
    from maskhog.live.record import Recording

    now = [0.0]
    rec = Recording("/dev/null/x.mkv", 10.0, paced=True, clock=lambda: now[0])
    written = []
    rec.video.write = written.append   # count what would be encoded
    frame = np.zeros((48, 64, 3), np.uint8)
    for t in (0.0, 0.05, 0.1, 0.5, 10.0):   # a fast frame, on time, 0.4 s busy, a 9.5 s stall
        now[0] = t
        rec.add(frame, [], 10.0)
    assert len(written) == 1 + 0 + 1 + 4 + 20   # the stall is cut to max_hold (2 s)


def test_record_refuses_a_container_it_cannot_write(clip, tmp_path):
    result = CliRunner().invoke(main, ["live", str(clip), "--headless", "--record", str(tmp_path / "x.gif")])
    assert result.exit_code == 2 and ".mkv" in result.output
