"""Where a webhook's time goes, in-process: the ceiling, what any webhook must read, and the service."""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path
from typing import Any

from flask import Flask, request
from werkzeug.test import EnvironBuilder

from ivr import create_app
from ivr.services import services

from . import ceiling
from .calls import Request, record_calls

HOST = "127.0.0.1:8000"
TOKEN = "breakdown-auth-token"
PASSES = 9


def _environs(requests: list[Request]) -> list[tuple[dict[str, Any], bytes]]:
    out = []
    for r in requests:
        path, _, query = r.path.partition("?")
        builder = EnvironBuilder(
            path=path,
            query_string=query,
            method="POST",
            base_url=f"http://{HOST}",
            data=r.body.encode(),
            content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": r.signature},
        )
        out.append((builder.get_environ(), r.body.encode()))
    return out


def _cpu_per_request(app: Flask, environs: list[tuple[dict[str, Any], bytes]]) -> float:
    """Return the CPU seconds per request of one pass (CPU time, so other load matters less)."""
    journeys = services(app).journeys if "ivr" in app.extensions else None  # the ceilings have none
    flush = journeys.flush if journeys is not None else None

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
        if not status.startswith("20"):
            raise RuntimeError(f"answered {status}")

    began = time.process_time()
    for environ, body in environs:
        environ = {**environ, "wsgi.input": io.BytesIO(body)}
        for _chunk in app(environ, start_response):
            pass
    if flush is not None:
        flush()  # the journey writer's work (a thread of this process) counts too
    return (time.process_time() - began) / len(environs)


def _reading_ceiling() -> Flask:
    """The ceiling app that also reads what every webhook must: the form, the query and the URL."""
    app = ceiling.create_app()

    @app.before_request
    def read() -> None:
        request.form.get("CallSid")
        request.args.get("node")
        request.url  # noqa: B018 - computing it is the point

    return app


FAIR = "fair ceiling: form, signature, constant TwiML"
SERVICE = "service (journeys to SQLite, writer incl.)"


def breakdown() -> list[tuple[str, float]]:
    """Return CPU microseconds per request for each stage, same recorded requests for all."""
    requests = record_calls(f"http://{HOST}", TOKEN)
    environs = _environs(requests)
    with tempfile.TemporaryDirectory() as tmp:
        # The line as deployed: its workers carry no console (deploy/ivr.service sets IVR_CONSOLE=0).
        config = {
            "SECRET_KEY": "x",
            "DATABASE_URL": f"sqlite:///{Path(tmp) / 'j.db'}",
            "JOURNEYS": 0,
            "CONSOLE": 0,
        }
        unsigned = create_app({**config, "TWILIO_AUTH_TOKEN": ""})
        signed = create_app({**config, "TWILIO_AUTH_TOKEN": TOKEN})
        recording = create_app({**config, "TWILIO_AUTH_TOKEN": TOKEN, "JOURNEYS": 1})
        stages = [
            ("ceiling: constant TwiML", ceiling.create_app()),
            ("ceiling + reading form, query, URL", _reading_ceiling()),
            (FAIR, ceiling.create_fair_app(TOKEN)),
            ("service, no signature check, no journeys", unsigned),
            ("service, no journeys", signed),
            (SERVICE, recording),
        ]
        best = {name: float("inf") for name, _ in stages}
        for _ in range(PASSES):  # stages interleaved, so that noise falls on all of them
            for name, app in stages:
                best[name] = min(best[name], _cpu_per_request(app, environs))
        return [(name, seconds * 1e6) for name, seconds in best.items()]


def report() -> None:
    """Print the breakdown with each stage's ratio to the constant ceiling and to the fair one."""
    rows = breakdown()
    base = rows[0][1]
    fair = dict(rows)[FAIR]
    print(f"\nin-process CPU per request (no server; best of {PASSES} interleaved passes, same requests):")
    print(f"  {'':48}{'':10}  ceiling/this  fair/this")
    for name, micros in rows:
        print(f"  {name:48}{micros:7.0f} us   {base / micros:10.2f} {fair / micros:10.2f}")
    found = dict(rows)
    print(f"\nservice against the fair ceiling: {fair / found[SERVICE]:.2f} (target >= 0.95)")
    print(f"the same with journeys off: {fair / found['service, no journeys']:.2f}")


if __name__ == "__main__":
    report()
