"""``maskhog serve``: the web dashboard over an events database."""

from __future__ import annotations

import ipaddress

import click

from .common import log
from .report import report_window, tz_option

__all__ = ["serve"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.argument("events")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; any but a loopback one needs --token.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--token", help="Required on every request (Authorization: Bearer TOKEN, or ?token= once in "
                              "the browser); also MASKHOG_SERVE_TOKEN.")
@tz_option
@click.option("--refresh", default=2.0, show_default=True, type=click.FloatRange(0.2),
              help="Seconds between the page's updates.")
def serve(events, host, port, token, tz, refresh):
    """A web dashboard of EVENTS (a SQLite file or postgresql://...): today's compliance per
    location, updating while `maskhog live` writes, the report's charts, recent alerts and
    denied entries, and a JSON API (/api/summary, /api/events?since=).

    Listens on 127.0.0.1 only unless --host says otherwise; then a token is required.
    """
    try:
        import uvicorn

        from ..report.dashboard import create_app
    except ImportError as exc:
        raise click.ClickException(f"the dashboard needs {exc.name}: pip install 'maskhog[dashboard]'") from None
    from ..report.store import StoreError, open_store

    if not _is_loopback(host) and not token:
        raise click.UsageError(f"--host {host} lets other machines in: give a token "
                               "(--token or MASKHOG_SERVE_TOKEN)")
    zone, _, _ = report_window(tz, None, None)
    try:
        open_store(events).close()   # a wrong path is said now, not at the first request
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    app = create_app(events, tz=zone, token=token, refresh=refresh)
    shown = f"[{host}]" if ":" in host else host
    if token:
        log(f"dashboard on http://{shown}:{port}/ : every request needs the token "
            "(open http://HOST:PORT/?token=TOKEN once in a browser); Ctrl-C stops")
    else:
        log(f"dashboard on http://{shown}:{port}/ (Ctrl-C stops)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
