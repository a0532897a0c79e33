"""Each production server's reliability under load: `python -m benchmarks.reliability`.

The line promises callers it is never down: a reload (`systemctl reload`, SIGHUP to the server's
master) must lose no webhook, and a worker that crashes must be replaced while calls go on. Each
server of benchmarks/servers.py, configured as it would ship, serves the line (`ivr:create_app()`)
on loopback, freshly started for each of two measurements:

- reload under load: eight keep-alive clients send signed webhook requests recorded from
  realistic call paths (benchmarks/calls.py) straight at the server, each pausing 5 ms between
  requests and opening a new connection every ten; SIGHUP goes to the master at 2 s and at 5 s.
  The stream runs at least 8 s and until the workers have not changed for 4 s, so that a server
  that replaces its workers slowly is measured through its whole reload. A request not answered
  2xx (another status, a connection refused, reset or closed without an answer, no answer within
  Twilio's 15 s) is a lost webhook.
- killed workers: with the same stream going, the oldest worker is killed with SIGKILL, a second
  later the newest (the replacement, once the master has started one) too, and the stream goes on
  5 s more. The server is still up when its master is alive and a new connection's GET /health
  answers 200; for each kill, how long until a request sent after it was answered 2xx.

The clients behave as nginx does with its kept-alive upstream connections (deploy/nginx.conf): a
connection the server has closed while idle is noticed before it is reused, and a new one opened.
A webhook lost on reload is a race between a request and a worker being stopped: a server that
loses some does not lose them in every run, so one run's 0 is evidence, not proof.
benchmarks/webhooks.py runs both measurements for its server comparison and its winner's rule.
"""

from __future__ import annotations

import argparse
import http.client
import os
import select
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from . import servers
from .calls import Request, record_calls
from .servers import CONFIGS, ROOT, TOKEN, Server
from .slowclients import signed_headers

CLIENTS = 8  # keep-alive connections, as nginx keeps several to the server (deploy/nginx.conf: up to 16)
RECONNECT = 10  # each client opens a new connection every 10 requests, as connections come and go
PAUSE_S = 0.005  # each client's pause between requests: several hundred requests a second in all
TIMEOUT_S = 15.0  # Twilio gives up on a webhook after 15 s


@dataclass(frozen=True)
class Outcome:
    """One request: when it was sent and answered (monotonic clock), and why it failed ('' if 2xx)."""

    began: float
    ended: float
    failure: str


def _failure(error: BaseException) -> str:
    """Name what went wrong with a request that got no HTTP answer."""
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, http.client.RemoteDisconnected):
        return "closed unanswered"
    if isinstance(error, ConnectionResetError | BrokenPipeError):
        return "reset"
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, http.client.IncompleteRead):
        return "answer cut off"
    return type(error).__name__


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """Whether an idle kept-alive connection was closed by the server (readable while no answer is due)."""
    sock = connection.sock
    if sock is None:
        return False
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


class Stream:
    """Signed webhook requests from a few keep-alive clients (threads), each pausing between requests."""

    def __init__(
        self,
        port: int,
        requests: list[Request],
        clients: int = CLIENTS,
        pause_s: float = PAUSE_S,
        timeout_s: float = TIMEOUT_S,
        reconnect: int = RECONNECT,
    ) -> None:
        self.port = port
        self.requests = requests
        self.pause_s = pause_s
        self.reconnect = reconnect
        self.timeout_s = timeout_s
        self.stopping = threading.Event()
        self.outcomes: list[list[Outcome]] = [[] for _ in range(clients)]
        self.threads = [threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(clients)]

    def start(self) -> Stream:
        """Start the clients; return self."""
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> list[Outcome]:
        """Stop the clients once their requests under way are answered; return every request's outcome."""
        self.stopping.set()
        for thread in self.threads:
            thread.join(self.timeout_s + 5)
        return sorted((o for each in self.outcomes for o in each), key=lambda o: o.began)

    def _client(self, n: int) -> None:
        done = self.outcomes[n]
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout_s)
        index = n * 7  # the clients start at different points of the recorded calls
        try:
            while not self.stopping.is_set():
                request = self.requests[index % len(self.requests)]
                index += 1
                if _dropped(connection) or (self.reconnect and index % self.reconnect == 0):
                    connection.close()  # the next request opens a new connection
                began, failure = time.monotonic(), ""
                try:
                    headers = signed_headers(request)
                    connection.request("POST", request.path, body=request.body, headers=headers)
                    response = connection.getresponse()
                    response.read()
                    if not 200 <= response.status < 300:
                        failure = f"HTTP {response.status}"
                except (OSError, http.client.HTTPException) as error:
                    failure = _failure(error)
                    connection.close()
                done.append(Outcome(began, time.monotonic(), failure))
                self.stopping.wait(self.pause_s)
        finally:
            connection.close()


@dataclass(frozen=True)
class Tally:
    """The requests of a stream: sent, answered 2xx, failures by kind, the longest wait."""

    sent: int
    answered: int
    failures: dict[str, int]
    worst_ms: float

    @classmethod
    def of(cls, outcomes: list[Outcome]) -> Tally:
        """Count a stream's outcomes."""
        failures = Counter(o.failure for o in outcomes if o.failure)
        worst = max(((o.ended - o.began) * 1e3 for o in outcomes), default=0.0)
        return cls(len(outcomes), len(outcomes) - sum(failures.values()), dict(failures), worst)

    @property
    def lost(self) -> int:
        """Requests not answered 2xx: webhooks lost to the caller."""
        return self.sent - self.answered

    def failures_text(self) -> str:
        """Return e.g. 'none' or '3 reset, 1 HTTP 502'."""
        return ", ".join(f"{n} {kind}" for kind, n in sorted(self.failures.items())) or "none"


@dataclass(frozen=True)
class ReloadResult:
    """Webhooks sent while the master was sent SIGHUP under load."""

    tally: Tally
    hups: int
    seconds: float  # how long the stream ran
    reloaded: bool  # every worker there before the first SIGHUP was replaced
    alive: bool  # the master still ran at the end

    @property
    def ok(self) -> bool:
        """Reloaded, still running, and every webhook answered 2xx."""
        return self.reloaded and self.alive and self.tally.sent > 0 and self.tally.lost == 0

    def summary(self) -> str:
        """Return e.g. '0 lost / 1612' or '14 lost / 1590, not reloaded'."""
        text = f"{self.tally.lost} lost / {self.tally.sent}"
        if not self.alive:
            return text + ", server ended"
        return text if self.reloaded else text + ", not reloaded"


@dataclass(frozen=True)
class KillResult:
    """Webhooks sent while workers were killed with SIGKILL, and whether the server still served."""

    tally: Tally
    killed: int
    answered_again_s: list[float | None]  # for each kill: until a request sent after it was answered
    alive: bool  # the master still ran at the end
    exit_code: int | None  # the master's, when it ended
    health: bool  # GET /health answered 200 at the end
    workers: int  # live workers at the end

    @property
    def up(self) -> bool:
        """Still serving: the master alive and /health answered 200."""
        return self.alive and self.health

    def summary(self) -> str:
        """Return e.g. 'up, 0 lost' or 'DOWN, 312 lost'."""
        return f"{'up' if self.up else 'DOWN'}, {self.tally.lost} lost"


@dataclass(frozen=True)
class Reliability:
    """One server's two measurements."""

    reload: ReloadResult
    kills: KillResult


def _sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def measure_reload(
    server: Server,
    requests: list[Request],
    seconds: float = 8.0,
    hups: tuple[float, ...] = (2.0, 5.0),
    settle_s: float = 4.0,
    longest_s: float = 30.0,
) -> ReloadResult:
    """Send SIGHUP to the master at each of `hups` s while the stream runs; count the webhooks lost.

    The stream runs at least `seconds` and until the workers have not changed for `settle_s` since
    the last SIGHUP, at most `longest_s`.
    """
    before = set(server.workers())
    stream = Stream(server.port, requests).start()
    began = time.monotonic()
    for at in hups:
        _sleep_until(began + at)
        if server.process.poll() is None:
            server.process.send_signal(signal.SIGHUP)
    workers, changed = set(server.workers()), time.monotonic()
    while (now := time.monotonic()) - began < longest_s:
        if now - began >= seconds and now - changed >= settle_s:
            break
        time.sleep(0.05)
        if (current := set(server.workers())) != workers:
            workers, changed = current, time.monotonic()
    ran = time.monotonic() - began
    outcomes = stream.stop()
    alive = server.process.poll() is None
    reloaded = alive and not before & set(server.workers())
    return ReloadResult(Tally.of(outcomes), len(hups), ran, reloaded, alive)


def _kill_newest(server: Server, spare: set[int]) -> int | None:
    """Kill the newest live worker not in spare with SIGKILL; return its pid (None if there is none)."""
    workers = [pid for pid in server.workers() if pid not in spare]
    if not workers:
        return None
    try:
        os.kill(workers[-1], signal.SIGKILL)
    except ProcessLookupError:
        return None
    return workers[-1]


def _health(port: int, timeout: float = 5.0) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/health")
        response = connection.getresponse()
        response.read()
        return response.status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def measure_kills(
    server: Server, requests: list[Request], first_s: float = 1.0, gap_s: float = 1.0, after_s: float = 5.0
) -> KillResult:
    """Kill the oldest worker at `first_s`, the newest `gap_s` later; `after_s` on, see if it still serves."""
    stream = Stream(server.port, requests).start()
    began = time.monotonic()
    _sleep_until(began + first_s)
    oldest = server.workers()[:1]
    victims: list[int] = []
    kills: list[float] = []
    if oldest:
        os.kill(oldest[0], signal.SIGKILL)
        victims.append(oldest[0])
        kills.append(time.monotonic())
        _sleep_until(kills[0] + gap_s)
        if (pid := _kill_newest(server, set(victims))) is not None:
            victims.append(pid)
            kills.append(time.monotonic())
    _sleep_until((kills[-1] if kills else began) + after_s)
    outcomes = stream.stop()
    again: list[float | None] = []
    for at in kills:
        answered = [o.ended for o in outcomes if o.began >= at and not o.failure]
        again.append(min(answered) - at if answered else None)
    alive = server.process.poll() is None
    health = alive and _health(server.port)
    return KillResult(
        Tally.of(outcomes), len(victims), again, alive, server.process.poll(), health, len(server.workers())
    )


def measure(
    configs: list[str], workers: int, threads: int, folder: Path, progress: bool = True
) -> dict[str, Reliability]:
    """Measure the reload and the killed workers for each configuration, each on a freshly started server."""
    results = {}
    for name in configs:
        reload_result, kill_result = None, None
        for test in ("reload", "killed"):
            if progress:
                print(f"{test} under load at {name}", file=sys.stderr, flush=True)
            where = folder / name / test
            env = servers.environment(where)
            server = servers.start(CONFIGS[name], "service", workers, threads, env, where)
            try:
                requests = record_calls(f"http://{server.host}", TOKEN, calls=16)
                if test == "reload":
                    reload_result = measure_reload(server, requests)
                else:
                    kill_result = measure_kills(server, requests)
            finally:
                server.stop()
        assert reload_result is not None and kill_result is not None
        results[name] = Reliability(reload_result, kill_result)
    return results


def _seconds(values: list[float | None]) -> str:
    return " / ".join("never" if v is None else f"{v:.2f}" for v in values) or "-"


def report(results: dict[str, Reliability]) -> None:
    """Print each server's reload and killed-worker figures."""
    print(
        f"\nreliability: the service as it would ship, straight at the server, {CLIENTS} keep-alive "
        f"clients sending signed webhooks (each pausing {PAUSE_S * 1e3:.0f} ms, a new connection every "
        f"{RECONNECT} requests);\nreload: SIGHUP to the master at 2 s and 5 s, the stream run until the "
        "workers had not changed for 4 s; killed: SIGKILL to the oldest worker, 1 s later to the newest, "
        "5 s more"
    )
    for name, result in results.items():
        r, k = result.reload, result.kills
        print(
            f"{name:17}reload: {r.tally.lost} lost / {r.tally.sent} in {r.seconds:.1f} s "
            f"({r.tally.failures_text()}), worst {r.tally.worst_ms:.0f} ms, "
            f"workers {'replaced' if r.reloaded else 'NOT replaced'}{'' if r.alive else ', server ENDED'}"
        )
        state = "master alive" if k.alive else f"master ENDED ({k.exit_code})"
        print(
            f"{'':17}killed x{k.killed}: {k.tally.lost} lost / {k.tally.sent} ({k.tally.failures_text()}), "
            f"answered again after {_seconds(k.answered_again_s)} s; {state}, "
            f"/health {'200' if k.health else 'not 200'}, {k.workers} workers at the end"
        )


def main(argv: list[str] | None = None) -> None:
    """Run both measurements for the servers named and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    servers.add_server_options(parser)
    args = parser.parse_args(argv)
    configs = servers.chosen_servers(args)
    os.chdir(ROOT)  # the recorded calls walk the shipped flow in prompts/
    with tempfile.TemporaryDirectory(prefix="ivr-reliability-") as name:
        report(measure(configs, args.workers, args.threads, Path(name)))


if __name__ == "__main__":
    main()
