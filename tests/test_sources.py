"""Sources that misbehave: streams that stall, drop and come back, cameras down at start,
frames that come back empty, files truncated or deleted while read.

The streams are real: an MJPEG server on 127.0.0.1 (what many IP cameras serve),
read by OpenCV's FFmpeg backend as a camera would be.
"""

import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from maskhog.cli import main
from maskhog.io import ImageError, open_source, video_frames
from maskhog.io.demo import demo_images


def write_clip(path, frames):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, frames[0].shape[1::-1])
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="module")
def faces():
    (_, bare), (_, masked) = demo_images()
    return bare, masked


class MjpegServer:
    """Serves the astronaut as an MJPEG stream; ``plan[k]`` says what connection k gets:
    ``(frames, then)`` with ``then`` "stall" (hold the connection open, silent) or "close"."""

    def __init__(self, frame, plan):
        self.jpeg = cv2.imencode(".jpg", frame)[1].tobytes()
        self.plan, self.connections, self.release = list(plan), 0, threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                k, server.connections = server.connections, server.connections + 1
                if k >= len(server.plan):
                    self.send_error(503)   # the camera is gone
                    return
                count, then = server.plan[k]
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    for _ in range(count):
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                                         % len(server.jpeg) + server.jpeg + b"\r\n")
                        self.wfile.flush()
                        time.sleep(0.02)
                    if then == "stall":
                        server.release.wait(60)
                except OSError:   # the reader hung up
                    pass

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def mjpeg(faces):
    servers = []

    def start(plan):
        servers.append(MjpegServer(faces[0], plan))
        return servers[-1]
    yield start
    for server in servers:
        server.close()


def test_a_stream_that_stalls_is_reopened_and_resumes(mjpeg):
    server = mjpeg([(10, "stall"), (10, "close")])
    frames, live, _ = open_source(server.url, retry=2, max_wait=0.1, timeout=1.0)
    got = []
    with pytest.raises(ImageError, match="lost; gave up after 2 tries"):
        for frame in frames:
            got.append(frame.shape)
    assert live and got == [(512, 512, 3)] * 20
    assert server.connections == 4   # the first, its reopening, and two tries at a 503


def test_a_camera_down_at_start_is_waited_for(faces):
    """A capture that opens only at the third try (the camera is plugged in late, and unplugged)."""
    clip_frames = [faces[0]] * 5
    tries = []

    def camera(target):
        tries.append(target)
        return FaultyCapture(clip_frames if len(tries) == 3 else None)

    frames, live, _ = open_source("0", retry=3, max_wait=0.1, capture=camera)
    assert len(list(_until_error(frames))) == 5 and len(tries) == 3 + 3   # and 3 tries after
    with pytest.raises(ImageError, match="cannot open this camera"):
        open_source("0", retry=0, capture=lambda target: FaultyCapture(None))


def test_retrying_for_ever_ends_when_stopped(faces):
    stop = threading.Event()
    frames, _, _ = open_source("0", retry=None, max_wait=30, stop=stop,
                               capture=lambda target: FaultyCapture(None))
    threading.Timer(0.5, stop.set).start()
    t0 = time.perf_counter()
    assert list(frames) == [] and time.perf_counter() - t0 < 2.0   # not the 30 s wait


def test_empty_frames_from_a_camera_are_skipped_and_the_camera_reopened(faces):
    bare, masked = faces
    empty = np.zeros((0, 0, 3), np.uint8)
    script = [bare, bare, empty, masked, None, empty, masked, None, None, None, masked]
    opened = []

    def camera(target):
        opened.append(target)
        return FaultyCapture({1: script, 2: [bare]}.get(len(opened)))

    frames, _, _ = open_source("0", retry=1, max_wait=0.1, capture=camera)
    got = list(_until_error(frames))
    # An odd empty or failed read is skipped; three in a row are a drop: the camera is reopened.
    assert len(got) == 4 + 1 and len(opened) == 2 + 1
    assert [f.shape for f in got] == [bare.shape] * 5


def test_live_stops_at_once_on_sigterm_while_its_stream_stalls(mjpeg):
    """A service manager's stop while the camera is silent: `left` is still reported."""
    server = mjpeg([(40, "stall")])
    process = subprocess.Popen([sys.executable, "-m", "maskhog", "live", server.url, "--headless",
                                "--detect-every", "1", "--retry", "forever"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    try:
        # Unbuffered, so that communicate() below gets every line after this one.
        first = process.stdout.readline().decode()   # she appears
        assert json.loads(first)["event"] == "appeared"
        time.sleep(2.0)                     # the 40 frames are long read; the stream is silent
        process.send_signal(signal.SIGTERM)
        t0 = time.perf_counter()
        out, err = (text.decode() for text in process.communicate(timeout=10))
        took = time.perf_counter() - t0
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert took < 3.0, f"{took:.1f} s from SIGTERM to exit"
    assert [json.loads(line)["event"] for line in out.splitlines()] == ["left"]


def test_a_truncated_video_is_read_to_its_end_with_a_warning(tmp_path, faces):
    whole = write_clip(tmp_path / "whole.avi", [faces[0]] * 40)
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole.read_bytes()[:whole.stat().st_size * 6 // 10])
    result = CliRunner().invoke(main, ["predict", str(whole), str(cut), "--every", "10"])
    assert result.exit_code == 0, result.output
    names = [json.loads(line)["image"] for line in result.stdout.splitlines()]
    assert names == [f"{whole}#frame={k}" for k in (0, 10, 20, 30)] + [f"{cut}#frame={k}" for k in (0, 10, 20)]
    (warning,) = [line for line in result.stderr.splitlines() if "truncated" in line]
    assert str(cut) in warning and "of the 40 frames" in warning
    # live reads it through to its end, and says so too.
    result = CliRunner().invoke(main, ["live", str(cut), "--headless"])
    assert result.exit_code == 0 and "of the 40 frames its header declares" in result.stderr
    assert [json.loads(line)["event"] for line in result.stdout.splitlines()] == ["appeared", "left"]


def test_a_video_deleted_while_it_is_read_is_read_to_its_end(tmp_path, faces):
    from maskhog.live import run_live
    from maskhog.pipeline import MaskDetector

    path = write_clip(tmp_path / "doomed.avi", [faces[0]] * 20 + [faces[1]] * 20)
    frames = []

    def on_frame(frame, people, fps):
        if len(frames) == 5:
            os.remove(path)   # an archive job cleans up under our feet
        frames.append(len(people))

    events = []
    stats = run_live(str(path), MaskDetector(), on_event=events.append, on_frame=on_frame)
    assert not path.exists() and stats["frames"] == 40
    assert [(e["event"], e["label"]) for e in events] == [
        ("appeared", "without_mask"), ("changed", "with_mask"), ("left", "with_mask")]


def test_video_frames_of_a_file_that_is_not_there_or_not_a_video(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        list(video_frames(tmp_path / "gone.avi"))
    junk = tmp_path / "junk.avi"
    shutil.copy(__file__, junk)
    with pytest.raises(ImageError, match="not a video file|no frame"):
        list(video_frames(junk))


class FaultyCapture:
    """A camera as OpenCV shows one: ``frames`` is what its reads give in turn (None: a
    failed read, an empty array: an empty frame); ``frames=None``: a camera that is not there."""

    def __init__(self, frames):
        self.frames = None if frames is None else list(frames)

    def isOpened(self):
        return self.frames is not None

    def read(self):
        if not self.frames:
            return False, None
        frame = self.frames.pop(0)
        return frame is not None, frame

    def get(self, prop):
        return 0.0

    def release(self):
        self.frames = []


def _until_error(frames):
    """The frames a source gives until it gives up."""
    try:
        yield from frames
    except ImageError:
        return
