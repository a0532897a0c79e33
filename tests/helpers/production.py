"""The README's production setup, for real: the line and the console, each a gunicorn on
deploy/gunicorn.conf.py as their units run them, behind Debian's nginx on deploy/nginx.conf, with a
certificate made for the test."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers.parts import missing
from tests.helpers.twilio import ROOT, TOKEN

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port() -> int:
    """Return a TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def site(
    https_port: int, http_port: int, upstream: int, cert: Path, key: Path, logs: Path, console: int = 8001
) -> str:
    """The README's nginx site, on test ports, with a test certificate and access log."""
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    text = text.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};")
    text = text.replace("server 127.0.0.1:8001;", f"server 127.0.0.1:{console};")
    text = text.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
    text = text.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    text = re.sub(r"listen \[::\]:\d+[^;]*;\n", "", text)
    text = text.replace("/etc/letsencrypt/live/line.example.org/fullchain.pem", str(cert))
    text = text.replace("/etc/letsencrypt/live/line.example.org/privkey.pem", str(key))
    return text.replace("/var/log/nginx/dvs-line.access.log", str(logs / "logs" / "access.log"))


def wait_until_up(base: str, server: subprocess.Popen[str] | None = None) -> None:
    """Wait until a server just started answers /health (15 s at most); fail if it dies first."""
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{base}/health", timeout=1).read()
            return
        except OSError:
            if server is not None and server.poll() is not None:
                raise AssertionError(f"the server ended: {server.communicate()[0]}") from None
            time.sleep(0.05)
    raise AssertionError(f"{base} did not start")


@dataclass
class Production:
    """A running line as the README deploys it; `env` is the service's environment."""

    folder: Path
    env: dict[str, str]
    upstream: int = field(default_factory=free_port)
    console_port: int = field(default_factory=free_port)
    https_port: int = field(default_factory=free_port)
    cert: Path = field(init=False)
    gunicorn: subprocess.Popen[str] | None = None
    console: subprocess.Popen[str] | None = None

    def __post_init__(self) -> None:
        self.cert = self.folder / "cert.pem"

    @property
    def url(self) -> str:
        """The public https URL, as Twilio would reach the line."""
        return f"https://localhost:{self.https_port}"

    def start_line(self, **settings: str) -> None:
        """Start (or restart) the line and the console with the service's environment and these settings.

        As their units run them: the line without the console (IVR_CONSOLE=0), the console in one
        worker of its own at a lower priority (Nice=10).
        """
        self.stop_line()
        env = {**self.env, **settings}
        self.gunicorn = _gunicorn(self.folder, {**env, "IVR_CONSOLE": "0"}, self.upstream)
        self.console = _gunicorn(self.folder, {**env, "IVR_WORKERS": "1"}, self.console_port, nice=10)
        wait_until_up(f"http://127.0.0.1:{self.upstream}", self.gunicorn)
        wait_until_up(f"http://127.0.0.1:{self.console_port}", self.console)

    def stop_line(self) -> None:
        """Stop the line and the console, letting them finish."""
        for server in (self.gunicorn, self.console):
            if server is not None and server.poll() is None:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=30)
        self.gunicorn = self.console = None


def _gunicorn(folder: Path, env: dict[str, str], port: int, nice: int = 0) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
         "--bind", f"127.0.0.1:{port}", "ivr:create_app()"],
        cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
        preexec_fn=(lambda: os.nice(nice)) if nice else None,
    )  # fmt: skip


@contextlib.contextmanager
def production(folder: Path, **settings: str) -> Iterator[Production]:
    """Run nginx (TLS, buffering) in front of a gunicorn started with these settings."""
    if not Path(NGINX).exists():
        missing("nginx is missing: install Debian's nginx-light (.ci/run does)")
    shutil.copytree(ROOT / "prompts", folder / "prompts", dirs_exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
    env.update(PYTHONPATH=str(ROOT), TWILIO_AUTH_TOKEN=TOKEN, IVR_SECRET_KEY="k" * 32, IVR_WORKERS="2")
    env.update(settings)
    line = Production(folder, env)
    key = folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(line.cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    prefix = folder / "nginx"
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    log_format = (ROOT / "deploy" / "nginx-log-format.conf").read_text()
    conf = prefix / "nginx.conf"
    server = site(line.https_port, free_port(), line.upstream, line.cert, key, prefix, line.console_port)
    conf.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"pid {prefix}/nginx.pid;\nerror_log {prefix}/logs/error.log;\n"
        + "events { worker_connections 1024; }\n"
        + f"http {{\n{log_format}\n{server}}}\n"
    )
    checked = subprocess.run(
        [NGINX, "-t", "-p", str(prefix), "-c", str(conf)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
    nginx = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"])
    try:
        line.start_line()
        yield line
    finally:
        nginx.terminate()
        line.stop_line()
        nginx.wait(timeout=10)
