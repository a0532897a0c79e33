"""Slow clients cannot hold calls: the documented nginx in front buffers whole requests.

The production setup of the README (deploy/nginx.conf in front of deploy/gunicorn.conf.py) is
started for real: Debian's nginx with a self-signed certificate, gunicorn with 2 workers of 4
threads. Fifty connections that send a header line every 2 s must not delay a signed call.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.parts import missing
from tests.helpers.twilio import ROOT, TOKEN, sign

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SLOW = 50


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def site(https_port: int, http_port: int, upstream: int, cert: Path, key: Path) -> str:
    """The README's nginx site, on test ports, with a test certificate and access log."""
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    text = text.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};")
    text = re.sub(r"listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;", text)
    text = re.sub(r"listen \[::\]:443 ssl http2;\n", "", text)
    text = re.sub(r"listen 80;", f"listen 127.0.0.1:{http_port};", text)
    text = re.sub(r"listen \[::\]:80;\n", "", text)
    text = text.replace("/etc/letsencrypt/live/line.example.org/fullchain.pem", str(cert))
    text = text.replace("/etc/letsencrypt/live/line.example.org/privkey.pem", str(key))
    return text.replace("/var/log/nginx/dvs-line.access.log", str(cert.parent / "access.log"))


@pytest.fixture
def line_behind_nginx(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """gunicorn behind nginx, both on their deploy configs; yield nginx's https URL and gunicorn's port."""
    if not Path(NGINX).exists():
        missing("nginx is missing: install Debian's nginx-light (.ci/run does)")
    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    upstream, https_port, http_port = free_port(), free_port(), free_port()
    prefix = tmp_path / "nginx"
    (prefix / "logs").mkdir(parents=True)
    log_format = (ROOT / "deploy" / "nginx-log-format.conf").read_text()
    conf = prefix / "nginx.conf"
    conf.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"pid {prefix}/nginx.pid;\nerror_log {prefix}/logs/error.log;\n"
        + "events { worker_connections 1024; }\n"
        + f"http {{\n{log_format}\n{site(https_port, http_port, upstream, cert, key)}\n}}\n"
    )
    checked = subprocess.run(
        [NGINX, "-t", "-p", str(prefix), "-c", str(conf)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr

    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        TWILIO_AUTH_TOKEN=TOKEN,
        IVR_SECRET_KEY="k" * 32,
        IVR_PROXY_FIX="1",
        IVR_WORKERS="2",
    )
    gunicorn = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
         "--bind", f"127.0.0.1:{upstream}", "ivr:create_app()"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    nginx = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"])
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{upstream}/health", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        yield f"https://localhost:{https_port}", upstream
    finally:
        nginx.terminate()
        gunicorn.terminate()
        nginx.wait(timeout=10)
        gunicorn.wait(timeout=30)


def slow_clients(
    host: str, port: int, count: int, stop: threading.Event, tls: bool
) -> list[threading.Thread]:
    """Open connections that send a request's headers one line every 2 s, as a slowloris does."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE

    def dawdle() -> None:
        try:
            raw = socket.create_connection((host, port), timeout=30)
            sock = context.wrap_socket(raw, server_hostname="localhost") if tls else raw
            sock.sendall(b"POST /voice HTTP/1.1\r\nHost: localhost\r\n")
            n = 0
            while not stop.wait(2.0):
                sock.sendall(f"X-Slow-{n}: {'a' * 10}\r\n".encode())
                n += 1
            sock.close()
        except OSError:
            pass  # dropped by the server: exactly what should happen to a slow client

    threads = [threading.Thread(target=dawdle, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def timed_call(base: str, n: int, verify: bool = True) -> float:
    """Make one signed incoming call; return the seconds it took to be answered."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    params = {"CallSid": f"CA{n:032d}"}
    url = base + "/voice"
    request = urllib.request.Request(
        url, data=urllib.parse.urlencode(params).encode(), headers=sign(url, params)
    )
    began = time.monotonic()
    with urllib.request.urlopen(request, timeout=10, context=context) as answer:
        body = answer.read()
    assert answer.status == 200 and b"<Gather" in body, body
    return time.monotonic() - began


def test_fifty_slow_clients_do_not_delay_a_signed_call_behind_nginx(line_behind_nginx) -> None:
    base, upstream = line_behind_nginx
    timed_call(base, 0)  # the https URL Twilio signed is the one checked (IVR_PROXY_FIX=1)
    stop = threading.Event()
    threads = slow_clients("127.0.0.1", int(base.rsplit(":", 1)[1]), SLOW, stop, tls=True)
    try:
        time.sleep(3)  # every slow client has started and sent a line or two
        waits = [timed_call(base, n) for n in range(1, 21)]
    finally:
        stop.set()
    assert max(waits) < 1.0, waits
    for thread in threads:
        thread.join(timeout=5)


def test_the_same_slow_clients_straight_at_gunicorn_hold_its_threads(line_behind_nginx) -> None:
    """Why nginx is in front: gunicorn alone gives each slow client a thread until it is done."""
    _, upstream = line_behind_nginx
    stop = threading.Event()
    threads = slow_clients("127.0.0.1", upstream, SLOW, stop, tls=False)
    try:
        time.sleep(3)
        began = time.monotonic()
        try:
            timed_call(f"http://127.0.0.1:{upstream}", 99)
        except OSError:
            pass  # timed out: held past the wait
        held = time.monotonic() - began
    finally:
        stop.set()
    for thread in threads:
        thread.join(timeout=5)
    assert held > 1.0, f"answered in {held:.2f} s with every thread held?"
