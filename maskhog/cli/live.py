"""``maskhog live``: watch a camera, video or stream and report each person's mask state."""

from __future__ import annotations

import json

import click

from .. import tuning
from .common import classifier_options, detector_options, log, min_face_option
from .event_options import event_options


class RetryCount(click.ParamType):
    """A count of tries (0 or more), or 'forever' (None)."""

    name = "N|forever"

    def convert(self, value, param, ctx):
        if value is None or isinstance(value, int):
            return value
        if str(value).strip().lower() in ("forever", "inf", "always"):
            return None
        try:
            count = int(value)
        except ValueError:
            count = -1
        if count < 0:
            self.fail(f"{value!r} is not a count of tries (0, 1, 2, ...) or 'forever'", param, ctx)
        return count


@click.command()
@click.argument("source")
@detector_options(upsample=False)
@click.option("--detect-every", default=3, show_default=True, type=click.IntRange(1),
              help="Detect faces on every N-th frame; track them in between.")
@click.option("--scale", default=1.0, show_default=True, type=click.FloatRange(0.1, 4.0),
              help="Resize frames by this factor before detecting (below 1 is faster).")
@click.option("--max-fps", default=0.0, show_default=True, type=click.FloatRange(0),
              help="Cap the processing rate (0: as fast as possible) to leave CPU for others.")
@click.option("--realtime", is_flag=True,
              help="Pace a video file at its own frame rate, newest frame only, like a camera.")
@click.option("--stats", is_flag=True, help="Print a JSON stats line to stderr every 5 s.")
@click.option("--headless", is_flag=True,
              help="No window, events only (also when no window can open: maskhog installs "
                   "OpenCV without a GUI; `pip install opencv-contrib-python` for one).")
@classifier_options(cascade_default=tuning.LIVE_CASCADE_THRESHOLD,
                    threshold_help=f"{tuning.LIVE_CASCADE_THRESHOLD}, every face in colour to the CNN")
@min_face_option
@click.option("--threads", default=0, show_default=True, type=click.IntRange(0, 64),
              help="OpenCV's worker threads (resizing, the CNN stage); 0: OpenCV's default. "
                   "1 leaves a core free on a two-core machine.")
@click.option("--recheck-every", default=2, show_default=True, type=click.IntRange(1),
              help="Classify a face that holds still again only every N detections (new and "
                   "moving faces at once).")
@click.option("--tracker", type=click.Choice(["none", "correlation"]), default="none",
              show_default=True, help="Between detections, hold the face boxes still, or follow "
                                      "them with dlib's correlation tracker (about 4 ms per face "
                                      "per frame; for people who move fast).")
@click.option("--retry", default="3", show_default=True, type=RetryCount(),
              help="Reopen a camera or stream that is down at start, stalls or drops this many "
                   "times in a row, or 'forever' (for a service).")
@click.option("--retry-max-wait", default=8.0, show_default=True, type=click.FloatRange(0.1, 3600),
              help="The longest wait between two tries, in seconds (the wait doubles from 1 s).")
@click.option("--record", "record_path", type=click.Path(dir_okay=False),
              help="Record what the window shows (boxes, labels, frame rate) to this video file: "
                   ".mkv (still plays if the run is killed), .mp4 or .avi; also with --headless.")
@event_options()
def live(source, detector, detect_every, scale, max_fps, realtime, stats, headless, classifier, min_face,
         threads, recheck_every, tracker, retry, retry_max_wait, record_path, recorder):
    """Watch SOURCE (webcam index, video file, stream URL or image folder) and report changes.

    Prints one JSON line per event on stdout (or sends it to each --events
    URL): a person appears, their mask label changes (smoothed over recent
    frames), or they leave; with --gate, allow and deny; with --alerts, alerts.
    Ctrl-C or SIGTERM stops within a second, also while a stream stalls or is
    being reopened, and reports everyone still in view as left.

    Exit status: 0 the source ended or the run was stopped; 1 the source could
    not be opened, or was lost for more than --retry tries; 2 usage error.
    """
    import signal
    import threading

    import cv2

    from ..events import SinkError
    from ..io import ImageError
    from ..live import LiveConfig, run_live
    from ..pipeline import MaskDetector

    if threads:
        cv2.setNumThreads(threads)
    # No second look at frames without faces: it would cost an empty scene 20 ms a frame.
    finder = MaskDetector(detector, classifier, min_face=min_face, second_look=False)
    config = LiveConfig(detect_every=detect_every, scale=scale, max_fps=max_fps, realtime=realtime,
                        recheck_every=recheck_every, tracker=tracker, retry=retry,
                        retry_max_wait=retry_max_wait)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def on_stats(record):
        click.echo(json.dumps(record), err=True)

    preview = None
    if not headless:
        from ..live.preview import Preview

        preview = Preview()
        why = preview.open()
        if why:
            log(f"no window: {why}; events only")
            preview = None
    recording = _recording(record_path, source, realtime) if record_path else None

    def on_frame(frame, tracks, fps):
        recorder.on_frame(frame, tracks, fps)
        if recording:
            recording.add(frame, tracks, fps)
        return preview.show(frame, tracks, fps) if preview else None

    try:
        final = run_live(source, finder, config=config, on_event=recorder.on_event,
                         on_verdict=recorder.on_verdict, on_stats=on_stats if stats else None,
                         on_frame=on_frame if preview or recorder.snapshots or recording else None,
                         stop=stop)
    except (ImageError, SinkError) as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        return
    finally:
        if preview:
            preview.close()
        if recording:
            recording.close()
            log(f"{record_path}: {recording.video.frames} frames recorded")
        recorder.close()
    if stats:
        on_stats(final)


def _recording(path, source, realtime):
    """A :class:`~maskhog.live.record.Recording` for SOURCE: a video file frame by frame at its
    own rate, a folder of images at two a second, cameras and streams by the clock."""
    from pathlib import Path

    import cv2

    from ..io import ImageError
    from ..live.record import Recording

    try:
        if Path(source).is_dir():
            return Recording(path, 2.0, paced=False)
        if Path(source).is_file():
            cap = cv2.VideoCapture(source)
            fps = cap.get(cv2.CAP_PROP_FPS) if cap.isOpened() else 0.0
            cap.release()
            return Recording(path, fps, paced=realtime)
        return Recording(path, 25.0, paced=True)
    except ImageError as exc:
        raise click.BadParameter(str(exc), param_hint="--record") from None
