"""`ivr serve`: serve the line with werkzeug's threaded server; gunicorn in production."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.serving import WSGIRequestHandler, make_server

from .. import logs
from ..services import services

log = logging.getLogger(__name__)


class AccessLog(WSGIRequestHandler):
    """werkzeug's request log without the query string: a GET webhook carries the caller's number there."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log method, path (no query), protocol, status and size."""
        path = urlsplit(self.path).path
        self.log("info", '"%s %s %s" %s %s', self.command, path, self.request_version, str(code), str(size))


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@with_appcontext
def serve(host: str, port: int) -> None:
    """Serve the line with werkzeug's server (use gunicorn in production: see the README)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = services(app).settings
    logs.configure(settings.log_level, settings.log_json, force=True)
    server = make_server(host, port, app, threaded=True, request_handler=AccessLog)
    # A threaded server: closing it then waits for the requests in flight.
    server.daemon_threads = False  # type: ignore[attr-defined]

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("%s: finishing the requests in flight, then stopping", signal.Signals(signum).name)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(f"Serving the line on http://{host}:{port}/ (the incoming-call webhook is /voice)")
    try:
        server.serve_forever()
    finally:
        server.server_close()
        journeys = services(app).journeys
        if journeys is not None:
            journeys.close(timeout=5.0)  # writes what is queued; logs exactly what could not be
        log.info("stopped")
