"""Compliance over time and place: events turned into people, rates and plots.

=================  ==========================================================
:mod:`.store`      :func:`open_store`: an events database (SQLite or PostgreSQL), read only
:mod:`.people`     the SQL that turns events into people and counts them
:mod:`.stats`      the compliance rate and its Wilson interval
:mod:`.buckets`    UTC quarter-hours into local hours, days and weeks (zoneinfo)
:mod:`.tables`     :func:`compliance`: rows by time and place, as table, CSV or JSON
:mod:`.plots`      the report's figures (matplotlib)
:mod:`.html`       :func:`write_html`: a self-contained report folder
:mod:`.dashboard`  the web dashboard and its JSON API (Starlette)
=================  ==========================================================

A person is one ``appeared`` event: the live loop follows a face as a track
and announces it once, at its first verdict (track ids start again at 1 in
each run, so ``(camera, track_id)`` alone is not a person). Their state events
(``appeared``, ``changed``, ``left``) belong to the latest ``appeared`` of the
same camera and track. A person's class is their last label: the smoothed
label they had when they left (or have now, while in view); a person is
compliant only with ``with_mask`` (``incorrect_mask`` is not compliant). A
person is counted at the time and place they appeared.
"""

from .stats import wilson
from .store import StoreError, open_store

__all__ = ["StoreError", "open_store", "wilson"]
