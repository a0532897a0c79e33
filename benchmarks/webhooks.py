"""Benchmark the webhooks under gunicorn against a minimal Flask ceiling: `python -m benchmarks.webhooks`.

Both apps run under the same gunicorn settings and take the same load from wrk on loopback:
pre-signed requests recorded from realistic call paths, replayed round-robin over concurrent
keep-alive connections. Rounds alternate between the two so that noise on a shared machine
falls on both. Then start-up time, memory per worker and `ivr check` on generated flows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .calls import lua_script, record_calls

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "benchmark-auth-token-0123456789abcdef"
# name -> (gunicorn app, extra environment); "service" is the line as deployed, journeys on.
APPS = {
    "ceiling": ("benchmarks.ceiling:create_app()", {}),
    "service": ("ivr:create_app()", {}),
    "no-journey": ("ivr:create_app()", {"IVR_JOURNEYS": "0"}),
}


@dataclass
class Server:
    """A gunicorn master serving one app on loopback."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    startup_s: float

    def worker_rss_mib(self) -> list[float]:
        """Return the resident memory of each worker process, in MiB."""
        sizes = []
        for pid in _children(self.process.pid):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
        return sizes

    def cpu_seconds(self) -> float:
        """Return the CPU time gunicorn's master and workers have used so far."""
        total = 0
        for pid in [self.process.pid, *_children(self.process.pid)]:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """Stop gunicorn gracefully and wait for it."""
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(name: str, workers: int, threads: int, env: dict[str, str], log: Path) -> Server:
    """Start gunicorn for one app and return once /health answers 200."""
    port = _free_port()
    command = [
        sys.executable, "-m", "gunicorn",
        "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
        "--bind", f"127.0.0.1:{port}", "--error-logfile", str(log), "--log-level", "warning",
        APPS[name][0],
    ]  # fmt: skip
    began = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env={**env, **APPS[name][1]})
    deadline = began + 30
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} did not start; see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
                if response.status == 200:
                    return Server(name, process, port, time.perf_counter() - began)
        except OSError:
            time.sleep(0.01)
    process.kill()
    raise RuntimeError(f"{name} did not answer /health within 30 s; see {log}")


def load(
    server: Server, script: Path, connections: int, seconds: float, threads: int, pause_ms: float = 0
) -> dict[str, float]:
    """Drive a server with wrk for a bounded time (each connection pausing pause_ms); return its summary."""
    command = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s",
        "-s", str(script), f"http://127.0.0.1:{server.port}",
    ]  # fmt: skip
    cpu = server.cpu_seconds()
    env = {**os.environ, "PAUSE_MS": str(pause_ms)}
    out = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 30, check=True, env=env
    ).stdout
    cpu = server.cpu_seconds() - cpu
    line = next(x for x in out.splitlines() if x.startswith("JSON "))
    result = json.loads(line.removeprefix("JSON "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["cpu_us"] = cpu / max(result["requests"], 1) * 1e6
    return result


def check_times(sizes: list[int], tmp: Path) -> list[tuple[int, float]]:
    """Time `ivr check` through its CLI on generated flows of the given sizes (best of two)."""
    from click.testing import CliRunner

    from ivr.cli import cli

    from .flowgen import generate

    results = []
    for size in sizes:
        folder = generate(ROOT / "prompts", tmp / f"flow{size}", size)
        best = float("inf")
        for _ in range(2):
            # CPU time: on a shared machine, wall time measures the neighbours as much as the check.
            began = time.process_time()
            result = CliRunner().invoke(cli, ["check", "--prompts", str(folder)])
            best = min(best, time.process_time() - began)
            if result.exit_code != 0:
                raise RuntimeError(f"ivr check failed on the generated flow of {size}:\n{result.output}")
        results.append((size, best))
    return results


def main(argv: list[str] | None = None) -> None:
    """Run the whole benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (README: 2 on 2 cores)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--connections", type=int, default=16, help="concurrent keep-alive connections")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one measured round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per app, alternating")
    parser.add_argument(
        "--paced-rate", type=float, default=400, help="offered req/s of the paced rounds (0 skips them)"
    )
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk's own threads")
    parser.add_argument(
        "--check-sizes", default="1000,5000,10000", help="flow sizes for `ivr check` ('' skips)"
    )
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")

    with tempfile.TemporaryDirectory(prefix="ivr-bench-") as name:
        tmp = Path(name)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TWILIO_AUTH_TOKEN": TOKEN,
            "IVR_SECRET_KEY": "benchmark-secret",
            "IVR_DATABASE_URL": f"sqlite:///{tmp / 'journeys.db'}",
        }
        servers = {n: start(n, args.workers, args.threads, env, tmp / f"{n}.log") for n in APPS}
        try:
            scripts = {}
            for n, server in servers.items():
                host = f"127.0.0.1:{server.port}"
                requests = record_calls(f"http://{host}", TOKEN)
                scripts[n] = tmp / f"{n}.lua"
                scripts[n].write_text(lua_script(requests, host))
            print(
                f"load: {len(requests)} signed requests from realistic call paths, replayed by wrk; "
                f"{args.connections} connections, {args.rounds} x {args.seconds:g} s per app; "
                f"gunicorn gthread {args.workers} workers x {args.threads} threads; {os.cpu_count()} cores"
            )
            for n, server in servers.items():  # warm up: imports, caches, connection pools
                load(server, scripts[n], args.connections, 1, args.wrk_threads)
            runs: dict[str, list[dict[str, float]]] = {n: [] for n in APPS}
            for _ in range(args.rounds):
                for n, server in servers.items():
                    runs[n].append(load(server, scripts[n], args.connections, args.seconds, args.wrk_threads))
            paced: dict[str, list[dict[str, float]]] = {n: [] for n in APPS}
            pause = args.connections * 1000 / args.paced_rate if args.paced_rate else 0
            for _ in range(args.rounds if pause else 0):
                for n, server in servers.items():
                    paced[n].append(
                        load(server, scripts[n], args.connections, args.seconds, args.wrk_threads, pause)
                    )
            memory = {n: s.worker_rss_mib() for n, s in servers.items()}
        finally:
            for server in servers.values():
                server.stop()
        print(f"\nsaturated: {args.connections} connections sending back to back (closed loop)")
        saturated = _table(runs)
        if pause:
            print(
                f"\npaced: about {args.paced_rate:g} req/s offered, each of {args.connections} connections "
                f"pausing {pause:.0f} ms between requests"
            )
            _table(paced)
        s, c = saturated["service"], saturated["ceiling"]
        p99 = statistics.median(r["p99_us"] for r in (paced["service"] or runs["service"])) / 1e3
        print(
            f"\ntargets: saturated throughput >= 0.90 of the ceiling: {s['rps'] / c['rps']:.2f} "
            f"({'met' if s['rps'] >= 0.9 * c['rps'] else 'NOT met'}); "
            f"p99 < 10 ms ({'paced' if pause else 'saturated'}): {p99:.2f} ms "
            f"({'met' if p99 < 10 else 'NOT met'})"
        )
        _report(servers, memory)
        from .breakdown import report

        report()
        sizes = [int(s) for s in args.check_sizes.split(",") if s.strip()]
        if sizes:
            _report_check(check_times(sizes, tmp))


def _table(runs: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Print each app's medians over its rounds and the ratios; return the medians."""
    med = {n: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for n, rs in runs.items()}
    print(
        f"{'':10}{'req/s':>10}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}"
        f"{'CPU us/req':>12}{'non-2xx':>9}{'errors':>8}"
    )
    for n, m in med.items():
        bad = sum(r["bad_status"] for r in runs[n])
        errors = sum(r["errors"] for r in runs[n])
        print(
            f"{n:10}{m['rps']:>10.0f}{m['p50_us'] / 1e3:>9.2f}{m['p90_us'] / 1e3:>9.2f}"
            f"{m['p99_us'] / 1e3:>9.2f}{m['cpu_us']:>12.0f}{bad:>9}{errors:>8}"
        )
    s, c = med["service"], med["ceiling"]
    print(
        f"{'ratio':10}{s['rps'] / c['rps']:>10.2f}{s['p50_us'] / c['p50_us']:>9.2f}"
        f"{s['p90_us'] / c['p90_us']:>9.2f}{s['p99_us'] / c['p99_us']:>9.2f}"
        f"{c['cpu_us'] / s['cpu_us']:>12.2f}"
        "   (req/s and latency: service/ceiling; CPU: ceiling/service; medians)"
    )
    j = med["no-journey"]
    print(
        f"{'journeys':10}{s['rps'] / j['rps']:>10.2f}{s['p50_us'] / j['p50_us']:>9.2f}"
        f"{s['p90_us'] / j['p90_us']:>9.2f}{s['p99_us'] / j['p99_us']:>9.2f}"
        f"{j['cpu_us'] / s['cpu_us']:>12.2f}   (service with journeys / without)"
    )
    rounds = "; ".join(n + " " + ", ".join(f"{r['rps']:.0f}" for r in rs) for n, rs in runs.items())
    print(f"req/s by round: {rounds}")
    return med


def _report(servers: dict[str, Server], memory: dict[str, list[float]]) -> None:
    su, cu = servers["service"].startup_s, servers["ceiling"].startup_s
    print(f"\nstart-up to first /health 200: service {su:.2f} s, ceiling {cu:.2f} s (ratio {su / cu:.2f})")
    ms, mc = statistics.mean(memory["service"]), statistics.mean(memory["ceiling"])
    print(
        f"memory per worker (RSS, after load): service {ms:.1f} MiB, ceiling {mc:.1f} MiB "
        f"(ratio {ms / mc:.2f}; workers: {', '.join(f'{x:.1f}' for x in memory['service'])})"
    )


def _report_check(times: list[tuple[int, float]]) -> None:
    base_n, base_t = times[0]
    print("\n`ivr check` on generated flows (CPU time, best of 2, through the CLI):")
    for n, t in times:
        scale = (t / base_t) / (n / base_n)
        print(f"  {n:>6} nodes: {t:6.2f} s  {t / n * 1e6:5.0f} us/node  scaling vs {base_n}: {scale:.2f}")
    print("  (nodes generated on top of the shipped flow; scaling 1.00 = linear in the number of nodes)")


if __name__ == "__main__":
    main()
