"""Benchmark the webhooks under each production server against the ceilings: `python -m benchmarks.webhooks`.

Every server configuration (benchmarks/servers.py) serves four apps side by side on loopback: the
constant ceiling, the fair ceiling (form read, signature checked, constant TwiML), the service as
deployed (`ivr:create_app()`, journeys on) and the service with journeys off. wrk replays
pre-signed requests recorded from realistic call paths over keep-alive connections, saturated
(back to back) and paced (about 300 req/s). Rounds alternate over every server and app, so that
noise on a shared machine falls on all of them. A saturated round that one worker served nearly
alone (keep-alive connections that all landed on one worker) is dropped, counted, and made up.
Then slow clients straight at each server, and each server's reliability as it would ship
(benchmarks/reliability.py: webhooks lost while the master is sent SIGHUP under load, and whether it
still serves after two workers were killed), memory, start-up, the server comparison and its
winner, the in-process breakdown, `ivr check` on generated flows, a reload measurement if one
exists, and memory per worker with and without preloading, on the shipped flow and a 10,000-node
one (benchmarks/memory.py).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import memory, reliability, servers, slowclients
from .calls import lua_script, record_calls
from .reliability import Reliability
from .servers import APPS, CONFIGS, ROOT, TOKEN, Server
from .slowclients import SlowResult

P99_TARGET_MS = 10.0
RATIO_TARGET = 0.95
STARTUP_TARGET = 2.0  # the service's start-up (first /health 200) against the constant app's
TIE = 0.05  # throughputs within 5% of the best count as equal in the winner's rule
P99_TIE = 0.25  # so do paced p99s within 25% of the best: on a shared machine that much is noise
SHIPPED = "gunicorn-gthread"  # what deploy/ runs: it stays unless another server is clearly better
WINNER_RULE = (
    f"eligible: the service answered every request 2xx in the load rounds, its paced p99 < {P99_TARGET_MS:g} "
    "ms, it lost no webhook while its master was sent SIGHUP twice under load (its workers replaced), "
    "and it still served after two of its workers were killed (SIGKILL) under load;\n      winner: most "
    f"service req/s saturated, within {TIE:.0%} counted a tie, broken by the slow-client result, then "
    f"the paced p99 (within {P99_TIE:.0%} a tie);\n      a tie that includes the shipped server "
    f"({SHIPPED}) keeps it"
)


@dataclass
class Pair:
    """One server configuration serving one app, and its measured rounds."""

    server: Server
    script: Path
    saturated: list[dict[str, float]] = field(default_factory=list)
    paced: list[dict[str, float]] = field(default_factory=list)
    dropped: int = 0
    rss: list[float] = field(default_factory=list)

    def kept(self) -> list[dict[str, float]]:
        """The saturated rounds both workers shared (none, if every round landed on one worker)."""
        return [r for r in self.saturated if r["balanced"]]


def load(
    server: Server,
    script: Path,
    connections: int,
    seconds: int,
    wrk_threads: int,
    workers: int,
    pause_ms: float = 0,
    recycle: int = 0,
) -> dict[str, float]:
    """Drive a server with wrk for a bounded time (each connection pausing pause_ms); return its summary.

    With `recycle`, every recycle-th request closes its connection and wrk opens another.

    The summary adds req/s, the server's CPU per request and the smallest share of the requests any
    worker served; a round is balanced when every worker served at least half its even share.
    """
    command = [
        "wrk", f"-t{wrk_threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
        "-s", str(script), f"http://{server.host}",
    ]  # fmt: skip
    counts, cpu = server.counts(), server.cpu_seconds()
    env = {**os.environ, "PAUSE_MS": str(pause_ms), "RECYCLE": str(recycle)}
    out = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 30, check=True, env=env
    ).stdout
    cpu = server.cpu_seconds() - cpu
    line = next(x for x in out.splitlines() if x.startswith("JSON "))
    result: dict[str, float] = json.loads(line.removeprefix("JSON "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["cpu_us"] = cpu / max(result["requests"], 1) * 1e6
    result["min_share"] = least_share(counts, server.counts(), workers)
    result["balanced"] = result["min_share"] >= 0.5 / workers
    return result


def least_share(before: dict[int, int], after: dict[int, int], workers: int) -> float:
    """Return the smallest share of a round's requests any worker served (0 if one served none).

    `before` and `after` are each worker pid's count; a worker that never answered has no count,
    so fewer pids than `workers` means a worker served nothing.
    """
    served = sorted(n - before.get(pid, 0) for pid, n in after.items())
    served = [0] * max(0, workers - len(served)) + served
    return served[0] / max(sum(served), 1)


@dataclass(frozen=True)
class Candidate:
    """A server's figures on the service that the winner's rule looks at."""

    clean: bool  # every request answered 2xx, no connection errors
    rps: float  # saturated, median
    paced_p99_ms: float  # median
    slow_ok: bool  # every signed call answered within 1 s while slow clients held connections
    # Reliability as shipped (benchmarks/reliability.py); None when not measured.
    reload_ok: bool | None = None  # no webhook lost on SIGHUP under load, and the workers replaced
    killed_ok: bool | None = None  # still serving after two workers were killed

    def reliable(self) -> bool:
        """Neither reliability measurement failed (one not measured does not count against a server)."""
        return self.reload_ok is not False and self.killed_ok is not False


def choose(candidates: dict[str, Candidate]) -> tuple[str | None, list[str]]:
    """Apply WINNER_RULE: return the winner (None if no server is eligible) and the servers tied with it."""
    eligible = {
        n: c for n, c in candidates.items() if c.clean and c.paced_p99_ms < P99_TARGET_MS and c.reliable()
    }
    if not eligible:
        return None, []
    best = max(c.rps for c in eligible.values())
    tied = [n for n, c in eligible.items() if c.rps >= (1 - TIE) * best]
    resisting = [n for n in tied if eligible[n].slow_ok] or tied
    quickest = min(eligible[n].paced_p99_ms for n in resisting)
    close = [n for n in resisting if eligible[n].paced_p99_ms <= quickest * (1 + P99_TIE)]
    if SHIPPED in close:
        return SHIPPED, tied
    return min(close, key=lambda n: eligible[n].paced_p99_ms), tied


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


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def measure(
    args: argparse.Namespace, configs: list[str], tmp: Path
) -> tuple[dict[tuple[str, str], Pair], dict[str, SlowResult]]:
    """Start every server and app, run the rounds and the slow clients; return the pairs and results."""
    pairs: dict[tuple[str, str], Pair] = {}
    try:
        for name in configs:
            folder = tmp / name
            env = servers.environment(folder)
            for app in APPS:  # one at a time, so that each start-up is timed alone
                server = servers.start(CONFIGS[name], app, args.workers, args.threads, env, folder)
                script = folder / f"{app}.lua"
                script.write_text(lua_script(record_calls(f"http://{server.host}", TOKEN), server.host))
                pairs[name, app] = Pair(server, script)
        pause = args.connections * 1000 / args.paced_rate if args.paced_rate else 0

        def run(pair: Pair, seconds: int, pause_ms: float = 0) -> dict[str, float]:
            return load(
                pair.server,
                pair.script,
                args.connections,
                seconds,
                args.wrk_threads,
                args.workers,
                pause_ms,
                args.recycle,
            )

        _progress(f"warming up {len(pairs)} servers")
        for pair in pairs.values():  # imports, caches, connection pools, thread pools
            run(pair, args.warmup)
            if pause:
                run(pair, args.warmup, pause)
        order = list(pairs)
        for n in range(args.rounds):
            _progress(f"round {n + 1}/{args.rounds}")
            rotated = order[n % len(order) :] + order[: n % len(order)]
            for key in rotated:
                pairs[key].saturated.append(run(pairs[key], args.seconds))
            for key in rotated if pause else []:
                pairs[key].paced.append(run(pairs[key], args.seconds, pause))
        for n in range(2 * args.rounds):  # make-up rounds for the saturated rounds dropped
            short = [k for k in order if sum(r["balanced"] for r in pairs[k].saturated) < args.rounds]
            if not short:
                break
            _progress(f"make-up round {n + 1}: {len(short)} apps")
            for key in short:
                pairs[key].saturated.append(run(pairs[key], args.seconds))
        for pair in pairs.values():
            pair.dropped = sum(not r["balanced"] for r in pair.saturated)
            pair.rss = pair.server.worker_rss_mib()
        slow: dict[str, SlowResult] = {}
        for name in configs if args.slow else []:
            _progress(f"slow clients at {name}")
            server = pairs[name, "service"].server
            first = record_calls(f"http://{server.host}", TOKEN, calls=1)[0]
            slow[name] = slowclients.measure("127.0.0.1", server.port, first, args.slow)
    finally:
        for pair in pairs.values():
            pair.server.stop()
    return pairs, slow


def _median(rounds: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in rounds) if rounds else float("nan")


def _server_table(name: str, pairs: dict[tuple[str, str], Pair], args: argparse.Namespace) -> None:
    """Print one server's table of apps (medians of the kept rounds) and the service's ratios."""
    threads = args.threads if name != "gunicorn-sync" else 1
    print(f"\n{name}: {CONFIGS[name].description.format(threads=threads)}")
    print(
        f"{'':11}{'req/s':>7} {'p50':>6}{'p90':>6}{'p99':>7} | paced {'p50':>5}{'p90':>6}{'p99':>7} ms |"
        f"{'CPU us/req':>11}{'non-2xx':>8}{'err':>5}{'kept/drop':>10}{'RSS MiB':>8}{'start s':>8}"
    )
    for app in APPS:
        pair = pairs[name, app]
        kept, paced = pair.kept(), pair.paced
        bad = sum(int(r["bad_status"]) for r in pair.saturated + paced)
        errors = sum(int(r["errors"]) for r in pair.saturated + paced)
        ms = {k: _median(kept, k) / 1e3 for k in ("p50_us", "p90_us", "p99_us")}
        pm = {k: _median(paced, k) / 1e3 for k in ("p50_us", "p90_us", "p99_us")}
        kept_text = f"{len(pair.saturated) - pair.dropped}/{pair.dropped}"
        app_rps = _median(kept, "rps")
        print(
            f"{app:11}{app_rps:>7.0f} {ms['p50_us']:>6.2f}{ms['p90_us']:>6.2f}{ms['p99_us']:>7.2f}"
            f" |       {pm['p50_us']:>5.2f}{pm['p90_us']:>6.2f}{pm['p99_us']:>7.2f}    |"
            f"{_median(kept, 'cpu_us'):>11.0f}{bad:>8}{errors:>5}{kept_text:>10}"
            f"{statistics.mean(pair.rss or [0]):>8.1f}{pair.server.startup_s:>8.2f}"
        )
    rps = {app: _median(pairs[name, app].kept(), "rps") for app in APPS}
    cpu = {app: _median(pairs[name, app].kept(), "cpu_us") for app in APPS}
    ratio = rps["service"] / rps["fair"]
    if math.isnan(ratio):
        verdict = "not measured: every round of the service or of the fair ceiling landed on one worker"
    else:
        verdict = "met" if ratio >= RATIO_TARGET else "NOT met"
    print(
        f"service / fair ceiling: req/s {ratio:.3f} ({verdict}: >= {RATIO_TARGET}), "
        f"CPU {cpu['fair'] / cpu['service']:.2f}; service / constant: req/s "
        f"{rps['service'] / rps['constant']:.2f}, CPU {cpu['constant'] / cpu['service']:.2f}; "
        f"journeys on / off: req/s {rps['service'] / rps['no-journey']:.2f}"
    )
    startup = pairs[name, "service"].server.startup_s / pairs[name, "constant"].server.startup_s
    print(
        f"start-up: service / constant {startup:.1f}x "
        f"({'met' if startup <= STARTUP_TARGET else 'NOT met'}: <= {STARTUP_TARGET:g}x)"
    )


def _comparison(
    configs: list[str],
    pairs: dict[tuple[str, str], Pair],
    slow: dict[str, SlowResult],
    clients: int,
    reliable: dict[str, Reliability],
) -> None:
    """Print the servers side by side on the service, and the winner by WINNER_RULE."""
    print(
        "\nservers compared on the service (ivr:create_app(), journeys on), medians; slow clients: "
        f"{clients} connections straight at the server,\neach sending a header line every 2 s, while "
        "signed calls are made one after another, each given up after 2 s; reliability: "
        f"{'see below' if reliable else 'not measured (--no-reliability)'}:"
    )
    print(
        f"{'':17}{'req/s':>6}{'sat p99':>8}{'paced p50/p99 ms':>17}{'CPU us':>7}{'/fair':>6}"
        f"  {'slow clients: calls answered':<31}{'RSS/worker':>11}{'start-up':>9}"
        f"  {'reliability: SIGHUP x2':<27}{'SIGKILL x2'}"
    )
    candidates = {}
    for name in configs:
        pair = pairs[name, "service"]
        kept = pair.kept()
        rps, paced_p99 = _median(kept, "rps"), _median(pair.paced, "p99_us") / 1e3
        clean = not any(r["bad_status"] or r["errors"] for r in pair.saturated + pair.paced)
        slow_ok = name in slow and slow[name].answered == slow[name].calls
        measured = reliable.get(name)
        candidates[name] = Candidate(
            clean,
            rps,
            paced_p99,
            slow_ok,
            measured.reload.ok if measured else None,
            measured.kills.up if measured else None,
        )
        reload_text, killed_text = "reload: -", "killed: -"
        if measured:
            reload_text = f"reload: {measured.reload.summary()}"
            killed_text = f"killed x{measured.kills.killed}: {measured.kills.summary()}"
        print(
            f"{name:17}{rps:>6.0f}{_median(kept, 'p99_us') / 1e3:>8.2f}"
            f"{_median(pair.paced, 'p50_us') / 1e3:>10.2f}/{paced_p99:<6.2f}{_median(kept, 'cpu_us'):>7.0f}"
            f"{rps / _median(pairs[name, 'fair'].kept(), 'rps'):>6.2f}"
            f"  {slow[name].summary() if name in slow else 'not measured':<31}"
            f"{statistics.mean(pair.rss or [0]):>7.1f} MiB{pair.server.startup_s:>7.2f} s"
            f"  {reload_text:<27}{killed_text}"
        )
    if reliable:
        reliability.report(reliable)
    print(f"rule: {WINNER_RULE}")
    winner, tied = choose(candidates)
    unmeasured = "" if reliable else " (reliability not measured: --no-reliability)"
    if winner is None:
        print(f"winner: none (no server is eligible){unmeasured}")
    else:
        print(f"winner: {winner} (within {TIE:.0%} of the most req/s: {', '.join(tied)}){unmeasured}")


def _report_check(times: list[tuple[int, float]]) -> None:
    base_n, base_t = times[0]
    print("\n`ivr check` on generated flows (CPU time, best of 2, through the CLI):")
    for n, t in times:
        scale = (t / base_t) / (n / base_n)
        print(f"  {n:>6} nodes: {t:6.2f} s  {t / n * 1e6:5.0f} us/node  scaling vs {base_n}: {scale:.2f}")
    print("  (nodes generated on top of the shipped flow; scaling 1.00 = linear in the number of nodes)")


def _reload_measurement() -> None:
    """Print benchmarks/reload.py's measurement, when that module exists and offers `measure()`."""
    if importlib.util.find_spec("benchmarks.reload") is None:
        return
    try:
        module = importlib.import_module("benchmarks.reload")
    except ImportError as error:
        print(f"\nreload: benchmarks/reload.py does not import: {error}")
        return
    if not callable(getattr(module, "measure", None)):
        return
    _progress("reload measurement (benchmarks/reload.py)")
    result = module.measure()
    print()
    if callable(getattr(module, "report", None)):
        module.report(result)
    elif result is not None:
        print(f"reload (benchmarks/reload.py): {result}")


def main(argv: list[str] | None = None) -> None:
    """Run the whole benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    servers.add_server_options(parser, "worker processes (README: 2 on 2 cores)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent keep-alive connections")
    parser.add_argument("--seconds", type=int, default=4, help="length of one measured round (whole s)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per app, alternating")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of warm-up per app and mode")
    parser.add_argument(
        "--paced-rate", type=float, default=300, help="offered req/s of the paced rounds (0 skips them)"
    )
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk's own threads")
    parser.add_argument(
        "--recycle",
        type=int,
        default=100,
        help="every this many requests one connection is closed and opened again (0: never)",
    )
    parser.add_argument("--slow", type=int, default=50, help="slow clients held open (0 skips the test)")
    parser.add_argument(
        "--check-sizes", default="1000,5000,10000", help="flow sizes for `ivr check` ('' skips)"
    )
    parser.add_argument(
        "--no-reliability",
        action="store_true",
        help="skip the reload and killed-worker measurements (the winner's rule then goes without them)",
    )
    parser.add_argument("--no-breakdown", action="store_true", help="skip the in-process breakdown")
    parser.add_argument("--no-reload", action="store_true", help="skip benchmarks/reload.py's measurement")
    parser.add_argument(
        "--no-memory", action="store_true", help="skip benchmarks/memory.py (with and without preloading)"
    )
    args = parser.parse_args(argv)
    configs = servers.chosen_servers(args)
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    os.chdir(ROOT)  # the recorded calls walk the shipped flow in prompts/

    began, load_before = time.monotonic(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="ivr-bench-") as name:
        tmp = Path(name)
        pairs, slow = measure(args, configs, tmp)
        reliable = {}
        if not args.no_reliability:
            reliable = reliability.measure(configs, args.workers, args.threads, tmp / "reliability")
        pause = args.connections * 1000 / args.paced_rate if args.paced_rate else 0
        print(
            f"load: signed requests from realistic call paths replayed by wrk over {args.connections} "
            f"keep-alive connections (every {args.recycle}th request closes its connection: wrk opens "
            f"another)\n{os.cpu_count()} cores (load average before/after: {load_before:.1f}/"
            f"{os.getloadavg()[0]:.1f}); {args.workers} workers per server; {args.rounds} rounds x "
            f"{args.seconds} s per app and mode,\nalternating over servers and apps; paced: each connection "
            f"pauses {pause:.0f} ms (about {args.paced_rate:g} req/s); saturated rounds one worker served "
            f"< {50 / args.workers:.0f}% of are dropped and made up (kept/drop); paced rounds are all kept"
        )
        for name in configs:
            _server_table(name, pairs, args)
        _comparison(configs, pairs, slow, args.slow, reliable)
        print(f"(measured in {time.monotonic() - began:.0f} s)")
        if not args.no_breakdown:
            from .breakdown import report

            report()
        sizes = [int(s) for s in args.check_sizes.split(",") if s.strip()]
        if sizes:
            _report_check(check_times(sizes, tmp))
    if not args.no_reload:
        _reload_measurement()
    if not args.no_memory:
        _progress("memory with and without preloading (benchmarks/memory.py)")
        memory.report(memory.measure(workers=args.workers, threads=args.threads))


if __name__ == "__main__":
    main()
