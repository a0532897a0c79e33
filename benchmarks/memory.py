"""Memory per worker and start-up, with and without preloading: `python -m benchmarks.memory`.

Serves the shipped flow and a generated one (10,000 nodes by default) with the real app under
gunicorn gthread (2 workers x 4 threads, as deployed): once as shipped, each worker importing the
app itself, and once with `--preload`, the master importing it and forking the workers. After the
workers have answered calls and written their journeys, prints for each: start-up to the first
/health 200, and per worker its RSS (what `ps` shows), its PSS (each shared page split between the
processes that share it: a worker's fair share of the machine's memory) and its private memory
(what only it holds), with the master's PSS and the sum over every process. `measure` returns
the same figures for benchmarks/webhooks.py to print.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .calls import Request, record_calls
from .flowgen import generate
from .servers import CONFIGS, ROOT, TOKEN, Server, add_worker_options, environment, environment_set, start

SETTLE_SECONDS = 3.0  # after the calls: the journey writers gather for 2 s, then write


@dataclass(frozen=True)
class Memory:
    """One process's memory, in MiB, from /proc/<pid>/smaps_rollup."""

    rss: float
    pss: float
    private: float


@dataclass(frozen=True)
class Measured:
    """One server: its flow, whether it preloaded, its start-up and its processes' memory."""

    flow: str
    preload: bool
    startup_s: float
    workers: list[Memory]
    master: Memory

    def per_worker(self, part: str) -> float:
        """Return the mean over the workers of one figure of their memory: rss, pss or private."""
        return statistics.mean(getattr(w, part) for w in self.workers)

    @property
    def total_pss(self) -> float:
        """Return the memory the whole server takes from the machine: every process's PSS."""
        return self.master.pss + sum(w.pss for w in self.workers)


def memory(pid: int) -> Memory:
    """Return a process's RSS, PSS and private memory in MiB."""
    kib: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if rest.strip().endswith("kB"):
            kib[name] = int(rest.split()[0])
    private = kib.get("Private_Clean", 0) + kib.get("Private_Dirty", 0)
    return Memory(kib.get("Rss", 0) / 1024, kib.get("Pss", 0) / 1024, private / 1024)


def measure(nodes: int = 10_000, workers: int = 2, threads: int = 4, calls: int = 200) -> list[Measured]:
    """Serve each flow with and without preloading; return each server's start-up and memory."""
    found = []
    with tempfile.TemporaryDirectory(prefix="ivr-memory-") as name:
        tmp = Path(name)
        flows = {
            "shipped": ROOT / "prompts",
            f"{nodes:,} nodes": generate(ROOT / "prompts", tmp / "gen", nodes),
        }
        for n, (flow, prompts) in enumerate(flows.items()):
            for preload in (False, True):
                folder = tmp / f"run{n}{'p' if preload else ''}"
                env = {**environment(folder), "IVR_PROMPTS_DIR": str(prompts), "IVR_LOG_LEVEL": "WARNING"}
                if preload:
                    env["GUNICORN_CMD_ARGS"] = f"{env.get('GUNICORN_CMD_ARGS', '')} --preload".strip()
                server = start(CONFIGS["gunicorn-gthread"], "service", workers, threads, env, folder)
                try:
                    with environment_set(env):
                        requests = record_calls(f"http://127.0.0.1:{server.port}", TOKEN, calls=16)
                    _call(server, requests, calls)
                    time.sleep(SETTLE_SECONDS)
                    found.append(
                        Measured(
                            flow,
                            preload,
                            server.startup_s,
                            [memory(pid) for pid in server.workers()],
                            memory(server.process.pid),
                        )
                    )
                finally:
                    server.stop()
    return found


def _call(server: Server, requests: list[Request], calls: int) -> None:
    """Send recorded webhooks, a new connection for each so that every worker answers some."""
    for n in range(calls):
        request = requests[n % len(requests)]
        connection = http.client.HTTPConnection(server.host, timeout=30)
        try:
            connection.request(
                "POST",
                request.path,
                body=request.body,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": request.signature,
                },
            )
            response = connection.getresponse()
            response.read()
            if response.status not in (200, 204):
                raise RuntimeError(f"{request.path} answered {response.status}")
        finally:
            connection.close()


def report(found: list[Measured]) -> None:
    """Print what `measure` returned, and what preloading saves on each flow."""
    print(
        "\nmemory per worker after calls (gunicorn gthread, means over the workers; PSS = shared pages "
        "split between the processes sharing them; all = master and workers):"
    )
    print(
        f"  {'flow':<14}{'preload':<9}{'start-up':>9}{'RSS':>10}{'PSS':>10}{'private':>10}"
        f"{'master PSS':>12}{'all PSS':>11}"
    )
    for row in found:
        rss, pss, private = (row.per_worker(part) for part in ("rss", "pss", "private"))
        print(
            f"  {row.flow:<14}{'yes' if row.preload else 'no':<9}{row.startup_s:>7.2f} s{rss:>6.1f} MiB"
            f"{pss:>6.1f} MiB{private:>6.1f} MiB{row.master.pss:>8.1f} MiB{row.total_pss:>7.1f} MiB"
        )
    for flow in dict.fromkeys(row.flow for row in found):
        alone, shared = (next(r for r in found if r.flow == flow and r.preload is p) for p in (False, True))
        worker = alone.per_worker("pss") - shared.per_worker("pss")
        print(
            f"  {flow}: preloading saves {worker:.1f} MiB of PSS a worker and "
            f"{alone.total_pss - shared.total_pss:.1f} MiB in all (the master then holds the app too); "
            f"start-up {alone.startup_s:.2f} -> {shared.startup_s:.2f} s"
        )


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_worker_options(parser, "gunicorn workers", nodes=True)
    parser.add_argument("--calls", type=int, default=200, help="webhooks sent before memory is read")
    args = parser.parse_args(argv)
    os.chdir(ROOT)  # the recorded calls walk the shipped flow in prompts/
    report(measure(args.nodes, args.workers, args.threads, args.calls))


if __name__ == "__main__":
    main()
