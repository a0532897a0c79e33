"""Blueprint for monitoring: /health for load balancers and people, /metrics for Prometheus.

Neither ever shows caller data: /health says what the line serves and why it is degraded;
/metrics counts (see ivr/metrics.py) and answers only with IVR_METRICS_TOKEN as a bearer token.
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, Response, abort, request

from .. import metrics
from ..services import services

bp = Blueprint("monitoring", __name__)


@bp.get("/health")
def health() -> dict[str, Any]:
    """Tell a load balancer the service answers; tell monitoring what it serves, and why if degraded."""
    found = services()
    live = found.live.current()  # read once: a flow swapped meanwhile cannot mix into the answer
    journeys = found.journeys.health() if found.journeys is not None else None
    dropping = bool(journeys and journeys.get("outage"))
    body: dict[str, Any] = {"status": "degraded" if live.degraded or dropping else "ok"}
    body["flow"] = live.flow.version
    body["serving"] = live.source
    if live.problems:
        body["on_disk"] = {
            "refused": True,
            "problems": len(live.problems),
            "first": [str(p) for p in live.problems[:10]],
        }
    if journeys is not None:
        body["journeys"] = journeys  # this worker's counts: written, queued, lost by reason, an outage
    return body


@bp.get("/metrics")
def scrape() -> Response:
    """Serve every metric to a scraper that brings the token; 404 while no token is configured."""
    token = services().settings.metrics_token
    if not token:
        abort(404)
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return Response(
            "a bearer token is needed\n", 401, {"WWW-Authenticate": "Bearer"}, mimetype="text/plain"
        )
    return Response(metrics.exposition(), mimetype=metrics.CONTENT_TYPE)
