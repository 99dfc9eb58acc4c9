"""The web dashboard: today's compliance per location, updating while ``live`` writes.

A Starlette application; ``maskhog serve`` runs it with uvicorn. The page is
one self-contained HTML file (vanilla JavaScript, no framework, nothing from
elsewhere) that asks ``/api/summary`` again every few seconds; the charts are
the report's PNGs, drawn by the server over the last 30 days.

=======================  ===================================================
``/``                    the page
``/api/summary``         today's people and compliance per location, with the
                         newest alerts and deny decisions
``/api/events?since=T``  events after the UTC time ``T`` (``kind=alert,deny``,
                         ``limit=N``), oldest first
``/plots/NAME.png``      ``over_time``, ``heat_map`` or ``class_counts``
=======================  ===================================================

With a token, every request must carry it: ``Authorization: Bearer TOKEN``,
or ``?token=TOKEN`` once (the page then keeps it in a cookie).
"""

from __future__ import annotations

import hmac
import io
import json
import math
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from . import people
from .buckets import day_start, parse_moment
from .store import StoreError, open_store
from .tables import compliance, summarise

__all__ = ["create_app", "PLOTS"]

PLOTS = ("over_time", "heat_map", "class_counts")
COOKIE = "maskhog_token"


def _clean(value):
    """JSON has no NaN: an empty group's rate is null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


class _TokenCheck(BaseHTTPMiddleware):
    """Every request must carry the token; a right ``?token=`` is kept in a cookie for the page."""

    def __init__(self, app, token: str):
        super().__init__(app)
        self.token = token.encode()

    async def dispatch(self, request, call_next):
        bearer = request.headers.get("authorization", "")
        given = (bearer[7:] if bearer.lower().startswith("bearer ") else None) \
            or request.query_params.get("token") or request.cookies.get(COOKIE) or ""
        if not hmac.compare_digest(given.encode(), self.token):
            return JSONResponse({"error": "a token is needed: Authorization: Bearer TOKEN or ?token=TOKEN"},
                                status_code=401)
        response = await call_next(request)
        if request.query_params.get("token"):
            response.set_cookie(COOKIE, given, httponly=True, samesite="strict")
        return response


def create_app(events: str, *, tz, token: str | None = None, refresh: float = 2.0,
               plot_days: int = 30, plot_cache: float = 60.0) -> Starlette:
    """The dashboard for the events database ``events`` (a SQLite path or ``postgresql://...``).

    Parameters
    ----------
    tz : tzinfo
        What "today" and the charts' hours mean.
    token : str, optional
        Required on every request when given.
    refresh : float
        Seconds between the page's updates.
    """
    local = threading.local()   # one connection per worker thread: sqlite3 and psycopg objects are not shared
    plots_lock = threading.Lock()
    plots: dict = {}

    def store():
        if getattr(local, "store", None) is None:
            local.store = open_store(events)
        return local.store

    def summary() -> dict:
        now = datetime.now(timezone.utc)
        today = day_start(now.astimezone(tz).date(), tz)
        counts = people.person_counts(store(), today)
        places = compliance(counts, ["location"], tz)
        totals: dict = {}
        for _, _, _, label, n in counts:
            totals[label] = totals.get(label, 0) + n
        recent = people.recent_events(store(), kinds=("alert", "deny"), limit=10)
        latest = people.recent_events(store(), limit=1)
        return _clean({"date": today.date().isoformat(), "tz": str(getattr(tz, "key", tz)),
                       "locations": places, "total": summarise(totals), "recent": recent,
                       "latest_event": latest[0]["time"] if latest else None, "refresh": refresh,
                       "now": now.isoformat(timespec="seconds")})

    async def api_summary(request):
        return JSONResponse(await _threaded(summary))

    async def api_events(request):
        params = request.query_params
        try:
            since = parse_moment(params["since"], timezone.utc) if params.get("since") else None
            limit = min(1000, max(1, int(params.get("limit", 100))))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        kinds = [k for k in params.get("kind", "").split(",") if k] or None
        found = await _threaded(lambda: people.recent_events(store(), kinds=kinds, since=since, limit=limit))
        return JSONResponse(_clean(found))

    def plot(name) -> bytes:
        from . import plots as figures

        with plots_lock:
            made, png = plots.get(name, (0.0, None))
            if png is not None and time.monotonic() - made < plot_cache:
                return png
            since = datetime.now(timezone.utc) - timedelta(days=plot_days)
            counts = people.person_counts(store(), since)
            buffer = io.BytesIO()
            if name == "over_time":
                figures.over_time(counts, tz, buffer)
            elif name == "heat_map":
                figures.heat_map(counts, tz, buffer)
            else:
                figures.class_counts(counts, buffer)
            plots[name] = (time.monotonic(), buffer.getvalue())
            return plots[name][1]

    async def plot_png(request):
        name = request.path_params["name"]
        if name not in PLOTS:
            return JSONResponse({"error": f"no plot {name!r}: {', '.join(PLOTS)}"}, status_code=404)
        return Response(await _threaded(lambda: plot(name)), media_type="image/png",
                        headers={"Cache-Control": "no-store"})

    async def page(request):
        first = await _threaded(summary)
        # Inside <script> nothing is decoded: only "</" could end it early.
        body = PAGE.replace("__SUMMARY__", json.dumps(first).replace("</", "<\\/"))
        return HTMLResponse(body.replace("__REFRESH__", str(int(refresh * 1000))))

    async def on_store_error(request, exc):
        return JSONResponse({"error": str(exc)}, status_code=503)

    middleware = [Middleware(_TokenCheck, token=token)] if token else []
    return Starlette(routes=[Route("/", page), Route("/api/summary", api_summary), Route("/api/events", api_events),
                             Route("/plots/{name}.png", plot_png)],
                     middleware=middleware, exception_handlers={StoreError: on_store_error})


async def _threaded(function):
    """Run a blocking database call in a worker thread, so the server keeps answering."""
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(function)


PAGE = (Path(__file__).with_name("dashboard.html")).read_text(encoding="utf-8")
