"""The console runs apart from the line, as deploy/ deploys them: nginx sends /admin to the console's
processes and everything else to the line's, which have no console at all."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from flask import session

from ivr import create_app
from tests.helpers.production import production
from tests.helpers.twilio import ROOT, sign

INSECURE = ssl.create_default_context()
INSECURE.check_hostname = False
INSECURE.verify_mode = ssl.CERT_NONE


def fetch(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """Return the status and body of one request (errors included)."""
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10, context=INSECURE) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with production(tmp_path_factory.mktemp("apart"), IVR_PROXY_FIX="1") as line:
        yield line


def test_nginx_sends_the_console_to_its_own_processes(deployed) -> None:  # type: ignore[no-untyped-def]
    status, page = fetch(deployed.url + "/admin/login")
    assert status == 200 and b"Sign in" in page
    # The line's own workers have no console: nothing staff send can run beside the webhooks.
    assert fetch(f"http://127.0.0.1:{deployed.upstream}/admin/login")[0] == 404
    assert fetch(f"http://127.0.0.1:{deployed.console_port}/admin/login")[0] == 200


def test_calls_are_answered_by_the_line(deployed) -> None:  # type: ignore[no-untyped-def]
    params = {"CallSid": "CA" + "1" * 32}
    url = deployed.url + "/voice"
    status, body = fetch(url, urllib.parse.urlencode(params).encode(), sign(url, params))
    assert status == 200 and b"<Gather" in body and b"node=greeting" in body


def test_a_large_body_is_refused_by_nginx_except_for_the_console(deployed) -> None:  # type: ignore[no-untyped-def]
    big = b"x" * (200 * 1024)
    assert fetch(deployed.url + "/voice", big)[0] == 413
    # The console takes recordings of a few MB; this one is turned away by the console itself (no
    # session, no CSRF token), not by nginx's size limit.
    status, _ = fetch(deployed.url + "/admin/prompts/welcome/en-GB/upload", big)
    assert status in (400, 403, 404, 405)


def test_the_console_runs_at_a_lower_priority(deployed) -> None:  # type: ignore[no-untyped-def]
    def niceness(pid: int) -> int:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])

    assert niceness(deployed.console.pid) == 10 and niceness(deployed.gunicorn.pid) == 0


def in_a_fresh_worker(probe: str, instance: Path, console: str = "0") -> str:
    """Run Python code in a new interpreter set up as a line worker (no Twilio token); return its output."""
    env = {**os.environ, "IVR_CONSOLE": console, "IVR_INSTANCE_DIR": str(instance)}
    env["IVR_SECRET_KEY"] = "x" * 32
    env.pop("TWILIO_AUTH_TOKEN", None)
    env.pop("IVR_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_line_s_own_workers_never_load_the_console(tmp_path: Path) -> None:
    """With IVR_CONSOLE=0 (deploy/ivr.service) a worker imports none of the console's code."""
    probe = (
        "import sys\n"
        "from ivr import create_app\n"
        "app = create_app()\n"
        "assert app.test_client().get('/health').status_code == 200\n"
        "console = ('flask_wtf', 'flask_login')\n"
        "print(sorted(m for m in sys.modules if m.startswith('ivr.admin') or m in console))\n"
    )
    assert in_a_fresh_worker(probe, tmp_path).strip() == "[]"
    # The probe sees modules: the console's do load where it runs.
    assert "ivr.admin" in in_a_fresh_worker(probe, tmp_path, console="1")


def test_a_line_worker_loads_the_database_layer_only_to_write_journeys(tmp_path: Path) -> None:
    """A worker answers its first calls without SQLAlchemy; its journey writer loads it to store them."""
    probe = (
        "import sys\n"
        "from ivr import create_app\n"
        "from ivr.services import services\n"
        "app = create_app()\n"
        "client = app.test_client()\n"
        "assert client.get('/health').status_code == 200\n"
        "assert client.post('/voice', data={'CallSid': 'CA' + '1' * 32}).status_code == 200\n"
        "print('sqlalchemy' in sys.modules)\n"
        "journeys = services(app).journeys\n"
        "assert journeys.flush()\n"
        "print('sqlalchemy' in sys.modules, journeys.count())\n"
    )
    answered, written = in_a_fresh_worker(probe, tmp_path).splitlines()
    assert answered == "False", "SQLAlchemy was loaded before anything was written"
    loaded, stored = written.split()
    assert loaded == "True" and int(stored) > 0, written  # the call's first steps, stored by the writer


def test_the_line_s_own_workers_open_no_sessions(app_config: dict[str, object]) -> None:
    """Without the console nothing signs in: a webhook or /health gets a null session, no cookie."""
    line = create_app({**app_config, "CONSOLE": False})
    for path in ("/health", "/voice"):
        with line.test_request_context(path, method="POST" if path == "/voice" else "GET"):
            assert line.session_interface.is_null_session(session._get_current_object())  # type: ignore[attr-defined]
    answer = line.test_client().get("/health")
    assert answer.status_code == 200 and "Set-Cookie" not in answer.headers
    console = create_app(app_config)
    with console.test_request_context("/admin/login"):
        assert not console.session_interface.is_null_session(session._get_current_object())  # type: ignore[attr-defined]
