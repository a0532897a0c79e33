"""The production servers measured, and one running server: start-up, CPU, memory, worker shares.

Each configuration serves an app of benchmarks/targets.py on loopback with the same number of
worker processes; what differs is how a worker handles connections:

- gunicorn sync: one request at a time per worker, no keep-alive (a connection per request);
- gunicorn gthread: threads per worker and keep-alive, as deploy/gunicorn.conf.py runs the line;
- granian: a Rust HTTP server per worker that reads requests itself and hands whole requests to
  a pool of Python threads (its WSGI interface).

Each is configured as it would ship: gunicorn with deploy/gunicorn.conf.py's timeouts (a worker
given 20 s to finish its requests when it is stopped or replaced on reload), granian with failed
workers respawned and 20 s for a worker to stop before it is killed.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .targets import COUNTERS, read_counts

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "benchmark-auth-token-0123456789abcdef"  # the servers' Twilio auth token: requests are signed with it
# app name -> (factory in benchmarks/targets.py, extra environment)
APPS: dict[str, tuple[str, dict[str, str]]] = {
    "constant": ("constant", {}),
    "fair": ("fair", {}),
    "service": ("service", {}),
    "no-journey": ("service", {"IVR_JOURNEYS": "0"}),
}


@dataclass(frozen=True)
class Config:
    """How to start one production server: a name, a description and its command line."""

    name: str
    description: str
    command: Callable[[str, int, int, int, Path], list[str]]  # factory, port, workers, threads, log


def _gunicorn(worker_class: str) -> Callable[[str, int, int, int, Path], list[str]]:
    def command(factory: str, port: int, workers: int, threads: int, log: Path) -> list[str]:
        return [
            sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", worker_class,
            "--threads", str(threads), "--keep-alive", "75", "--timeout", "30", "--graceful-timeout", "20",
            "--bind", f"127.0.0.1:{port}",
            "--error-logfile", str(log), "--log-level", "warning", f"benchmarks.targets:{factory}()",
        ]  # fmt: skip

    return command


def _granian(factory: str, port: int, workers: int, threads: int, log: Path) -> list[str]:
    return [
        sys.executable, "-m", "granian", "--interface", "wsgi", "--factory", "--workers", str(workers),
        "--blocking-threads", str(threads), "--respawn-failed-workers", "--workers-kill-timeout", "20",
        "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "warning", "--no-access-log", f"benchmarks.targets:{factory}",
    ]  # fmt: skip


CONFIGS = {
    "gunicorn-sync": Config("gunicorn-sync", "gunicorn 2 sync workers (no keep-alive)", _gunicorn("sync")),
    "gunicorn-gthread": Config(
        "gunicorn-gthread", "gunicorn 2 gthread workers x {threads} threads, keep-alive", _gunicorn("gthread")
    ),
    "granian": Config(
        "granian",
        "granian --interface wsgi, 2 workers x {threads} blocking threads, keep-alive, failed ones respawned",
        _granian,
    ),
}


def add_server_options(parser: argparse.ArgumentParser, workers_help: str = "worker processes") -> None:
    """Add the options naming the servers to run and their workers and threads."""
    parser.add_argument(
        "--servers", default=",".join(CONFIGS), help=f"server configurations, of {', '.join(CONFIGS)}"
    )
    add_worker_options(parser, workers_help)


def add_worker_options(
    parser: argparse.ArgumentParser, workers_help: str = "worker processes", nodes: bool = False
) -> None:
    """Add the options of one server's workers and threads (and of a generated flow's size)."""
    parser.add_argument("--workers", type=int, default=2, help=workers_help)
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (gthread, granian)")
    if nodes:
        parser.add_argument(
            "--nodes", type=int, default=10_000, help="generated nodes on top of the shipped flow"
        )


def chosen_servers(args: argparse.Namespace) -> list[str]:
    """Return the server configurations `--servers` names; exit saying which are unknown."""
    configs = [s.strip() for s in args.servers.split(",") if s.strip()]
    if unknown := [s for s in configs if s not in CONFIGS]:
        sys.exit(f"unknown servers {unknown}; known: {', '.join(CONFIGS)}")
    return configs


def free_port() -> int:
    """Return a loopback TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def children(pid: int) -> list[int]:
    """Return the live child processes of pid (not yet reaped ones that ended are left out)."""
    tasks = list(Path(f"/proc/{pid}/task").glob("*/children"))
    if not tasks and Path(f"/proc/{pid}").exists():  # a kernel without /proc/<pid>/task/<tid>/children
        found = [p for p in descendants(pid) if _stat(p)[1] == str(pid)]
    else:
        found = []
        for path in tasks:
            try:
                found += [int(x) for x in path.read_text().split()]
            except OSError:
                continue  # the thread ended
    live = []
    for child in found:
        try:
            if _stat(child)[0] != "Z":
                live.append(child)
        except OSError:
            continue
    return live


def started(pid: int) -> int:
    """Return when a process started, in clock ticks since boot (a later process has a larger value)."""
    return int(_stat(pid)[19])


def descendants(pid: int) -> list[int]:
    """Return every process below pid (workers, and whatever the workers started)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents.setdefault(int(_stat(int(stat.parent.name))[1]), []).append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    found, queue = [], [pid]
    while queue:
        children = parents.get(queue.pop(), [])
        found += children
        queue += children
    return found


@dataclass
class Server:
    """One configuration serving one app on loopback, started and waited for."""

    config: Config
    app: str
    process: subprocess.Popen[bytes]
    port: int
    counters: Path
    startup_s: float

    @property
    def host(self) -> str:
        """The host and port the server listens on, as signed into the requests."""
        return f"127.0.0.1:{self.port}"

    def workers(self) -> list[int]:
        """Return the pids of the live worker processes (the master's direct children), oldest first."""
        pids = []
        for pid in children(self.process.pid):
            try:
                pids.append((started(pid), pid))
            except OSError:
                continue  # ended between the listing and the reading
        return [pid for _, pid in sorted(pids)]

    def worker_rss_mib(self) -> list[float]:
        """Return the resident memory of each worker process, in MiB."""
        sizes = []
        for pid in self.workers():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
        return sizes

    def cpu_seconds(self) -> float:
        """Return the CPU time the master and every process below it have used so far."""
        total = 0
        for pid in [self.process.pid, *descendants(self.process.pid)]:
            try:
                fields = _stat(pid)
            except OSError:
                continue  # ended between the listing and the reading
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / os.sysconf("SC_CLK_TCK")

    def counts(self) -> dict[int, int]:
        """Return the requests each worker pid has answered so far."""
        return read_counts(self.counters)

    def stop(self) -> None:
        """Stop the server with SIGTERM (graceful for both servers) and wait for it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)  # a worker is given 20 s to finish its requests
        except subprocess.TimeoutExpired:
            for pid in descendants(self.process.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            self.process.kill()
            self.process.wait()


def environment(folder: Path) -> dict[str, str]:
    """Return the environment the servers run the line in: instance, database and metrics in folder."""
    (folder / "metrics").mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TWILIO_AUTH_TOKEN": TOKEN,
        "IVR_SECRET_KEY": "benchmark-secret",
        "IVR_INSTANCE_DIR": str(folder),
        "IVR_DATABASE_URL": f"sqlite:///{folder / 'journeys.db'}",
        "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),  # as deploy/gunicorn.conf.py sets it
        "IVR_CONSOLE": "0",  # as deploy/ivr.service runs the line: the console runs apart
    }


def wait_for_health(port: int, process: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    """Return once GET /health answers 200; raise if the server ends or does not answer in time."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server ended with {process.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.005)
    raise RuntimeError(f"no /health 200 within {timeout:g} s; see {log}")


def start(config: Config, app: str, workers: int, threads: int, env: dict[str, str], folder: Path) -> Server:
    """Start one configuration serving one app; return once /health answers 200 (start-up timed)."""
    factory, extra = APPS[app]
    port = free_port()
    counters = folder / f"{config.name}-{app}.counts"
    counters.mkdir(parents=True, exist_ok=True)
    log = folder / f"{config.name}-{app}.log"
    began = time.perf_counter()
    with log.open("ab") as out:
        process = subprocess.Popen(
            config.command(factory, port, workers, threads, log),
            cwd=ROOT,
            env={**env, **extra, COUNTERS: str(counters)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_health(port, process, 60, log)
    except RuntimeError as error:
        process.kill()
        raise RuntimeError(f"{config.name} serving {app}: {error}") from None
    return Server(config, app, process, port, counters, time.perf_counter() - began)


@contextmanager
def environment_set(env: dict[str, str]) -> Iterator[None]:
    """Set the environment for this process for a while (the in-process recording reads its settings)."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
