"""Slow clients straight at a server: do signed calls still get answered within a second?

Fifty connections each send a request's headers one line every 2 s, as a slowloris does (the
same clients as tests/test_slow_clients.py). Meanwhile signed incoming calls are made one after
another; each is answered within 1 s, late, or not at all (given up after `timeout`). nginx in
front (deploy/nginx.conf) drops such clients before the server sees them; this measures the
server without that shield, which is what a server that reads requests itself can offer.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from dataclasses import dataclass

from .calls import Request


@dataclass(frozen=True)
class SlowResult:
    """How signed calls fared while slow clients held connections."""

    slow: int
    calls: int
    answered: int  # within the deadline, with 200
    worst_s: float  # the longest wait, answered or not (the timeout when one was given up)
    timeout_s: float
    deadline_s: float = 1.0

    def summary(self) -> str:
        """Return e.g. '10/10 <= 1 s, worst 0.01 s' or '0/10 <= 1 s, worst > 2.0 s'."""
        worst = f"> {self.timeout_s:.1f}" if self.worst_s >= self.timeout_s else f"{self.worst_s:.2f}"
        return f"{self.answered}/{self.calls} <= {self.deadline_s:g} s, worst {worst} s"


def slow_clients(host: str, port: int, count: int, stop: threading.Event) -> list[threading.Thread]:
    """Open connections that send a request's headers one line every 2 s until stop is set."""

    def dawdle() -> None:
        try:
            with socket.create_connection((host, port), timeout=30) as sock:
                sock.sendall(b"POST /voice HTTP/1.1\r\nHost: localhost\r\n")
                n = 0
                while not stop.wait(2.0):
                    sock.sendall(f"X-Slow-{n}: {'a' * 10}\r\n".encode())
                    n += 1
        except OSError:
            pass  # dropped by the server: what a server should do to a slow client

    threads = [threading.Thread(target=dawdle, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def signed_headers(request: Request) -> dict[str, str]:
    """Return the headers Twilio sends with a webhook: a form body and the request's signature."""
    return {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": request.signature}


def timed_call(host: str, port: int, request: Request, timeout: float) -> tuple[bool, float]:
    """Make one signed call on a new connection; return (answered 200, seconds waited)."""
    began = time.monotonic()
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("POST", request.path, body=request.body, headers=signed_headers(request))
        response = connection.getresponse()
        response.read()
        return response.status == 200, time.monotonic() - began
    except OSError:
        return False, max(time.monotonic() - began, timeout)
    finally:
        connection.close()


def measure(
    host: str,
    port: int,
    request: Request,
    slow: int = 50,
    calls: int = 10,
    timeout: float = 2.0,
    settle: float = 3.0,
) -> SlowResult:
    """Hold `slow` slow connections open for `settle` s, then time `calls` signed calls one after another."""
    stop = threading.Event()
    threads = slow_clients(host, port, slow, stop)
    try:
        time.sleep(settle)  # every slow client has connected and sent a line or two
        results = [timed_call(host, port, request, timeout) for _ in range(calls)]
    finally:
        stop.set()
    for thread in threads:
        thread.join(timeout=5)
    answered = sum(1 for ok, waited in results if ok and waited <= 1.0)
    return SlowResult(slow, calls, answered, max(waited for _, waited in results), timeout)
