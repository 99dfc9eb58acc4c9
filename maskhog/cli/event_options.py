"""The event options that ``live`` and ``check`` share: sinks, camera names, the gate, alerts, actions.

The option group hands the command one :class:`maskhog.events.recorder.EventRecorder`
built from them (the command closes it), so the commands say what they need,
not how sinks are opened.
"""

from __future__ import annotations

import functools

import click

from .common import _options

__all__ = ["event_options"]


def _duration(ctx, param, value):
    from ..events.gate import parse_duration

    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def event_options(*, gate_flag: bool = True):
    """Add the event options; the command receives ``recorder``, a built EventRecorder.

    ``gate_flag``: offer ``--gate`` (``check`` always gates).
    """
    def decorate(command):
        @functools.wraps(command)
        def run(*args, events, camera, location, queue_dir, gate_frames, alerts, alert_cooldown,
                camera_alert_cooldown, on_allow, on_deny, on_alert, snapshots, no_blur, gate=True, **kwargs):
            from ..events import Fanout, SinkError, open_sink
            from ..events.actions import CommandAction
            from ..events.gate import AlertCooldown, Gate
            from ..events.recorder import EventRecorder
            from ..events.snapshots import Snapshots

            alerts = alerts or alert_cooldown is not None or camera_alert_cooldown is not None or bool(on_alert)
            if no_blur and not snapshots:
                raise click.UsageError("--no-blur is about --snapshots: add --snapshots DIR")
            if (on_allow or on_deny) and not gate:
                raise click.UsageError("--on-allow and --on-deny act on the gate's decisions: add --gate")
            fanout = Fanout()
            try:
                for url in events or (["-"] if gate_flag else []):
                    fanout.add(open_sink(url, camera=camera, location=location, queue_dir=queue_dir))
                for kind, targets in (("allow", on_allow), ("deny", on_deny), ("alert", on_alert)):
                    for target in targets:
                        action = (open_sink(target, camera=camera, location=location, queue_dir=queue_dir,
                                            role=f"on-{kind}")
                                  if "://" in target else CommandAction(target))
                        fanout.add(action, kinds={kind})
            except SinkError as exc:
                fanout.close()
                raise click.ClickException(str(exc)) from None
            recorder = EventRecorder(fanout, camera=camera, location=location,
                                     gate=Gate(gate_frames) if gate else None,
                                     alerts=AlertCooldown(30.0 if alert_cooldown is None else alert_cooldown,
                                                          camera_alert_cooldown or 0.0) if alerts else None,
                                     snapshots=Snapshots(snapshots, blur=not no_blur) if snapshots else None)
            return command(*args, recorder=recorder, **kwargs)

        options = [
            click.option("--events", "events", multiple=True, metavar="URL",
                         help="Where events go; repeat for several: - (stdout, the default), "
                              "sqlite:///FILE (or a path), jsonl:///FILE, mqtt://HOST[:PORT]/PREFIX, "
                              "http(s)://URL (a webhook), postgresql://USER@HOST/DB."),
            click.option("--camera", default="camera", show_default=True,
                         help="This camera's name in every event (and in MQTT topics)."),
            click.option("--location", default="default", show_default=True,
                         help="Where the camera is (a door, a corridor), in every event."),
            click.option("--queue-dir", type=click.Path(file_okay=False),
                         help="Folder of the on-disk queues that keep events for MQTT, webhooks and "
                              "PostgreSQL while they are away (default: $MASKHOG_QUEUE_DIR or "
                              "~/.local/state/maskhog/queues)."),
        ]
        if gate_flag:
            options.append(click.option("--gate", is_flag=True,
                                        help="Access control: an allow event once a person is seen "
                                             "with_mask --gate-frames verdicts in a row, deny for "
                                             "without_mask or incorrect_mask."))
        options += [
            click.option("--gate-frames", default=3, show_default=True, type=click.IntRange(1),
                         help="Consecutive verdicts the gate needs for a decision."),
            click.option("--alerts", is_flag=True,
                         help="An alert event when a person's label becomes without_mask or "
                              "incorrect_mask (at most one per person per --alert-cooldown)."),
            click.option("--alert-cooldown", callback=_duration, metavar="DURATION",
                         help="Least time between two alerts for one person (30s, 2m; default 30s); "
                              "implies --alerts."),
            click.option("--camera-alert-cooldown", callback=_duration, metavar="DURATION",
                         help="Least time between two alerts from this camera, whoever they are about "
                              "(default: no such limit); implies --alerts."),
            click.option("--snapshots", type=click.Path(file_okay=False), metavar="DIR",
                         help="Save a JPEG of the frame for each event but left, faces blurred, in DIR "
                              "(its path is the event's snapshot). Off by default: no face image is kept."),
            click.option("--no-blur", is_flag=True,
                         help="Keep the faces in --snapshots sharp (where the law and the people allow it)."),
            click.option("--on-allow", multiple=True, metavar="COMMAND|URL",
                         help="On each allow: run COMMAND (split like a shell would, run without one; "
                              "{track_id}, {label}... are filled in, the event JSON is on stdin), or "
                              "send the event to URL (http(s):// or mqtt://). Repeatable."),
            click.option("--on-deny", multiple=True, metavar="COMMAND|URL", help="The same, on each deny."),
            click.option("--on-alert", multiple=True, metavar="COMMAND|URL",
                         help="The same, on each alert (implies --alerts)."),
        ]
        return _options(run, options)
    return decorate
