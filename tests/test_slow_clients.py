"""Slow clients cannot hold calls: the documented nginx in front buffers whole requests.

The production setup of the README (deploy/nginx.conf in front of deploy/gunicorn.conf.py) is
started for real: Debian's nginx with a self-signed certificate, gunicorn with 2 workers of 4
threads. Fifty connections that send a header line every 2 s must not delay a signed call.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.production import production
from tests.helpers.twilio import sign

SLOW = 50


@pytest.fixture
def line_behind_nginx(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """The README's setup, with IVR_PROXY_FIX=1; yield nginx's https URL and gunicorn's own port."""
    with production(tmp_path, IVR_PROXY_FIX="1") as line:
        yield line.url, line.upstream


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


def timed_call(base: str, n: int, timeout: float = 10.0) -> float:
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
    with urllib.request.urlopen(request, timeout=timeout, context=context) as answer:
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
        waits = []
        for n in range(3):
            began = time.monotonic()
            try:
                timed_call(f"http://127.0.0.1:{upstream}", 99 + n, timeout=3.0)
            except OSError:
                pass  # timed out: held past the wait
            waits.append(time.monotonic() - began)
        held = max(waits)
    finally:
        stop.set()
    for thread in threads:
        thread.join(timeout=5)
    assert held > 1.0, f"answered in {held:.2f} s with every thread held?"
