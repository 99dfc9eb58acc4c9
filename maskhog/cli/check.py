"""``maskhog check``: one access decision for a kiosk or door script, as an exit status.

Exit statuses: 0 allow, 1 deny, 3 no face seen, 2 an error (a crash is never
read as a deny). The decision is one JSON line on stdout.
"""

from __future__ import annotations

import json
import sys
import time

import click

from .common import classifier_options, detector_options, log, min_face_option
from .event_options import event_options

EXIT = {"allow": 0, "deny": 1, None: 3}
ERROR = 2


class _CheckCommand(click.Command):
    """A command whose every error exits with 2: 1 means deny to the calling script."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            exc.exit_code = ERROR
            raise
        except (click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:   # noqa: BLE001 - reported, and exit 2 rather than 1 (deny)
            log(f"error: {type(exc).__name__}: {exc}")
            ctx.exit(ERROR)


class _Decisions:
    """The first decision, and a stop for the loop once it is made."""

    def __init__(self, stop):
        self.stop, self.first = stop, None
        self.url = "the decision"

    def write(self, event):
        if self.first is None:
            self.first = event
            self.stop.set()

    def close(self):
        pass


@click.command(cls=_CheckCommand)
@click.argument("source")
@detector_options(upsample=False)
@classifier_options()
@min_face_option
@click.option("--timeout", default=5.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds to wait for a decision before giving up.")
@event_options(gate_flag=False)
def check(source, detector, classifier, min_face, timeout, recorder):
    """One decision on SOURCE (camera index, video, stream, image or folder): is the person masked?

    Watches until the gate decides (--gate-frames verdicts in a row on one
    person) or --timeout seconds pass, and prints the decision as one JSON
    line. Exit status: 0 allow, 1 deny, 3 no face seen, 2 an error. When the
    source ends first (a photo), its verdicts so far decide; when the time runs
    out with a face seen but no decision, the answer is deny.
    """
    import threading

    from ..events import SinkError
    from ..io import ImageError
    from ..live import LiveConfig, run_live
    from ..pipeline import MaskDetector

    finder = MaskDetector(detector, classifier, min_face=min_face, second_look=False)
    stop = threading.Event()
    decisions = _Decisions(stop)
    recorder.sink.add(decisions, kinds={"allow", "deny"})
    last = {}   # track -> (label, score, box, the gate's undecided run after this verdict)

    def on_verdict(track, label, score, frame):
        recorder.on_verdict(track, label, score, frame)
        # Kept here: the gate forgets a track when it leaves, and a photo's track leaves at its end.
        last[track.id] = (label, score, [int(v) for v in track.box], recorder.gate.pending(track.id))

    timer = threading.Timer(timeout, stop.set)
    timer.daemon = True
    start = time.monotonic()
    timer.start()
    try:
        # Every frame searched and every face judged: a decision within a few frames.
        run_live(source, finder, config=LiveConfig(detect_every=1, recheck_every=1, stats_every=0),
                 on_event=recorder.on_event, on_verdict=on_verdict, stop=stop,
                 on_frame=recorder.on_frame if recorder.snapshots else None)
    except (ImageError, SinkError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        timer.cancel()
        timed_out = stop.is_set() and decisions.first is None
        answer = decisions.first
        if answer is None and last and not timed_out:
            answer = _decide_at_the_end(recorder, last)
        recorder.close()
    seconds = round(time.monotonic() - start, 3)
    if answer is not None:
        out = {"decision": answer["event"], "reason": answer.get("reason", "gate"),
               **{k: answer[k] for k in ("label", "score", "track_id", "face_px", "box", "camera",
                                         "location", "time")}}
    elif last:
        out = {"decision": "deny", "reason": "timeout: no decision before --timeout"}
    else:
        out = {"decision": None, "reason": "no face seen"}
    out["seconds"] = seconds
    click.echo(json.dumps(out))
    sys.stdout.flush()
    raise SystemExit(EXIT[out["decision"]])


def _decide_at_the_end(recorder, last):
    """The source ended before the gate decided (a photo): the longest run of verdicts decides."""
    from ..events import make_event

    undecided = {tid: v for tid, v in last.items() if v[3] is not None}
    if not undecided:
        return None
    tid = max(undecided, key=lambda t: undecided[t][3][1])
    label, score, box, (decision, _) = undecided[tid]
    event = make_event(decision, track_id=tid, label=label, score=score, box=box,
                       camera=recorder.camera, location=recorder.location)
    recorder.sink.write(event)
    return {**event, "reason": "end of source"}
