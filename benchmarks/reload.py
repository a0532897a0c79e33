"""Webhook latency while the flow is edited under load: `python -m benchmarks.reload`.

Serves a generated flow (10,000 nodes by default) with the real app under gunicorn (gthread,
2 workers x 4 threads), sends a steady stream of signed webhook requests from a few client
processes, and edits a prompt's text a few times. Prints the worst and p99 latency of the
requests sent while an edit is being picked up against those of a quiet spell, how long each
new version took to be served by every worker (polling /health), and the workers' memory
before and after the edits. `measure` returns the same figures for another benchmark to print.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from .calls import Request, record_calls
from .flowgen import generate
from .servers import CONFIGS, ROOT, TOKEN, Server, add_worker_options, environment_set, start

# Each edit rewrites the first generated topic's text with the next of these words.
WORDS = ("short", "brief", "quick", "plain", "clear", "simple")
HEALTH_RUN = 20  # consecutive /health answers with the new version: every worker serves it


def measure(
    nodes: int = 10_000,
    workers: int = 2,
    threads: int = 4,
    clients: int = 4,
    edits: int = 3,
    quiet_seconds: float = 10.0,
    settle_seconds: float = 2.0,
    pause_ms: float = 5.0,
    reload_seconds: float = 1.0,
    worker_tmp_dir: str = "",
) -> dict[str, Any]:
    """Serve a generated flow under gunicorn, edit it under load; return latencies, reload times, RSS.

    Latencies are in milliseconds: `quiet` over the requests sent before any edit, `edits` over
    those sent from each edit until every worker serves the new version and `settle_seconds` more.
    `served_s` is, for each edit, the seconds until every worker answered /health with the new version.
    `worker_tmp_dir` moves gunicorn's worker heartbeat files (e.g. to /dev/shm; default: the temp folder).
    """
    with tempfile.TemporaryDirectory(prefix="ivr-reload-") as name:
        tmp = Path(name)
        prompts = generate(ROOT / "prompts", tmp / "prompts", nodes)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TWILIO_AUTH_TOKEN": TOKEN,
            "IVR_SECRET_KEY": "benchmark-secret",
            "IVR_PROMPTS_DIR": str(prompts),
            "IVR_AUDIO_DIR": str(tmp / "audio"),
            "IVR_INSTANCE_DIR": str(tmp / "instance"),
            "IVR_DATABASE_URL": f"sqlite:///{tmp / 'journeys.db'}",
            "IVR_FLOW_RELOAD_SECONDS": str(reload_seconds),
            "IVR_LOG_LEVEL": "WARNING",
            "IVR_CONSOLE": "0",  # as deploy/ivr.service runs the line: the console runs apart
        }
        if worker_tmp_dir:
            extra = f"--worker-tmp-dir {worker_tmp_dir}"
            env["GUNICORN_CMD_ARGS"] = f"{env.get('GUNICORN_CMD_ARGS', '')} {extra}".strip()
        server = start(CONFIGS["gunicorn-gthread"], "service", workers, threads, env, tmp)
        try:
            with environment_set(env):
                requests = record_calls(f"http://127.0.0.1:{server.port}", TOKEN, calls=16)
            figures = _run(server, prompts, requests, clients, edits, quiet_seconds, settle_seconds, pause_ms)
            return {"nodes": nodes, "worker_tmp_dir": worker_tmp_dir or tempfile.gettempdir(), **figures}
        finally:
            server.stop()


def _run(
    server: Server,
    prompts: Path,
    requests: list[Request],
    clients: int,
    edits: int,
    quiet_seconds: float,
    settle_seconds: float,
    pause_ms: float,
) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    results: multiprocessing.Queue[list[tuple[float, float, int]]] = context.Queue()
    rows = [(r.path, r.body, r.signature) for r in requests]
    senders = [
        context.Process(target=_client, args=(server.port, rows, i, pause_ms, stop, results), daemon=True)
        for i in range(clients)
    ]
    _wait_idle(server)
    version = _version(server.port)
    for sender in senders:
        sender.start()
    time.sleep(2)  # warm up: every worker has answered a few calls
    quiet = (time.monotonic(), time.monotonic() + quiet_seconds)
    time.sleep(quiet_seconds)
    rss_before = server.worker_rss_mib()
    windows, served, first = [], [], []
    for n in range(edits):
        edited = time.monotonic()
        _edit(prompts, n)
        seen_first, seen_all, version = _wait_for_new(server.port, version, edited)
        first.append(seen_first - edited)
        served.append(seen_all - edited)
        time.sleep(settle_seconds)
        windows.append((edited, time.monotonic()))
    rss_after = server.worker_rss_mib()
    stop.set()
    sent = [row for _ in senders for row in results.get(timeout=60)]
    for sender in senders:
        sender.join(timeout=10)
    in_quiet = [ms for at, ms, _ in sent if quiet[0] <= at < quiet[1]]
    in_edits = [ms for at, ms, _ in sent if any(a <= at < b for a, b in windows)]
    slowest = sorted(
        (
            (ms, at - max(a for a, _ in windows if a <= at))
            for at, ms, _ in sent
            if any(a <= at < b for a, b in windows)
        ),
        reverse=True,
    )[:5]
    return {
        "quiet": _summary(in_quiet),
        "edits": _summary(in_edits),
        "slowest": slowest,
        "failed": sorted(status for _, _, status in sent if status not in (200, 204)),
        "first_served_s": first,
        "served_s": served,
        "rss_before_mib": rss_before,
        "rss_after_mib": rss_after,
    }


def _client(
    port: int,
    rows: list[tuple[str, str, str]],
    offset: int,
    pause_ms: float,
    stop: Any,
    results: Any,
) -> None:
    """Send the recorded requests round-robin until told to stop; a new connection every 10 requests
    spreads them over the workers. Put (sent at, milliseconds, status) of each on the queue."""
    host = f"127.0.0.1:{port}"
    done: list[tuple[float, float, int]] = []
    connection: http.client.HTTPConnection | None = None
    index = offset * 7
    while not stop.is_set():
        path, body, signature = rows[index % len(rows)]
        index += 1
        if connection is None or index % 10 == 0:
            if connection is not None:
                connection.close()
            connection = http.client.HTTPConnection(host, timeout=30)
        headers = {
            "Host": host,
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        }
        began = time.monotonic()
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            status = response.status
        except OSError:
            status, connection = 0, None
        done.append((began, (time.monotonic() - began) * 1000, status))
        time.sleep(pause_ms / 1000)
    results.put(done)


def _version(port: int) -> str:
    """Return the flow version the worker that answers /health serves."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=30) as response:
        return str(json.load(response)["flow"])


def _wait_for_new(port: int, old: str, edited: float, timeout: float = 60) -> tuple[float, float, str]:
    """Poll /health on new connections until every worker serves a version other than `old`.

    Return when the first worker served it, when the last did (the start of HEALTH_RUN answers
    in a row with it), and the new version."""
    first = None
    run_began, run = 0.0, 0
    while time.monotonic() < edited + timeout:
        version = _version(port)
        asked = time.monotonic()  # when the answer came: a worker may load the flow while answering
        if version == old:
            run = 0
        else:
            first = first or asked
            if run == 0:
                run_began = asked
            run += 1
            if run >= HEALTH_RUN:
                return first, run_began, version
        time.sleep(0.01)
    raise RuntimeError(f"no worker served an edited flow within {timeout:g} s")


def _wait_idle(server: Server, timeout: float = 120) -> None:
    """Wait until gunicorn's workers use no CPU: each has loaded the flow and waits for requests."""
    deadline = time.monotonic() + timeout
    used = server.cpu_seconds()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = server.cpu_seconds()
        if now - used < 0.05:
            return
        used = now
    raise RuntimeError(f"gunicorn's workers were still busy after {timeout:g} s")


def _edit(prompts: Path, n: int) -> None:
    """Change the first generated topic's text, as staff would, and save the file in one step."""
    path = prompts / "en-GB.yaml"
    text = path.read_text(encoding="utf-8")
    before, after = WORDS[n % len(WORDS)], WORDS[(n + 1) % len(WORDS)]
    edited = text.replace(f"'Topic a: a {before} explanation", f"'Topic a: a {after} explanation", 1)
    if edited == text:
        raise RuntimeError(f"{path} has no text to edit")
    temporary = path.with_name(".en-GB.yaml.tmp")
    temporary.write_text(edited, encoding="utf-8")
    os.replace(temporary, path)


def _summary(latencies: list[float]) -> dict[str, float]:
    if not latencies:
        return {"requests": 0, "p50_ms": 0.0, "p99_ms": 0.0, "worst_ms": 0.0}
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "p50_ms": statistics.median(ordered),
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "worst_ms": ordered[-1],
    }


def report(figures: dict[str, Any]) -> None:
    """Print what `measure` returned."""
    quiet, edits = figures["quiet"], figures["edits"]
    print(
        f"webhooks while a {figures['nodes']}-node flow is edited ({len(figures['served_s'])} edits; "
        f"gunicorn heartbeat files in {figures['worker_tmp_dir']}):"
    )
    print(f"{'':8}{'requests':>10}{'p50 ms':>9}{'p99 ms':>9}{'worst ms':>10}")
    for label, row in (("quiet", quiet), ("edits", edits)):
        print(
            f"{label:8}{row['requests']:>10}{row['p50_ms']:>9.1f}{row['p99_ms']:>9.1f}{row['worst_ms']:>10.1f}"
        )
    print(f"failed requests: {figures['failed']}")
    slowest = ", ".join(f"{ms:.0f} ms at {at:.2f} s" for ms, at in figures["slowest"])
    print(f"slowest requests during the edits (sent so long after an edit): {slowest}")
    first = ", ".join(f"{s:.2f}" for s in figures["first_served_s"])
    served = ", ".join(f"{s:.2f}" for s in figures["served_s"])
    print(f"new version served by a worker after: {first} s; by every worker after: {served} s")
    before = ", ".join(f"{x:.1f}" for x in figures["rss_before_mib"])
    after = ", ".join(f"{x:.1f}" for x in figures["rss_after_mib"])
    print(f"worker RSS before the edits: {before} MiB; after: {after} MiB")
    worst = edits["worst_ms"]
    print(
        f"target: worst request during the edits <= 100 ms: {worst:.1f} ms "
        f"({'met' if worst <= 100 else 'NOT met'})"
    )


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_worker_options(parser, "gunicorn workers", nodes=True)
    parser.add_argument("--clients", type=int, default=4, help="client processes sending webhooks")
    parser.add_argument("--edits", type=int, default=3, help="edits of the flow")
    parser.add_argument("--pause-ms", type=float, default=5.0, help="each client's pause between requests")
    parser.add_argument("--reload-seconds", type=float, default=1.0, help="IVR_FLOW_RELOAD_SECONDS")
    parser.add_argument("--worker-tmp-dir", default="", help="gunicorn's --worker-tmp-dir (e.g. /dev/shm)")
    args = parser.parse_args(argv)
    report(
        measure(
            nodes=args.nodes,
            workers=args.workers,
            threads=args.threads,
            clients=args.clients,
            edits=args.edits,
            pause_ms=args.pause_ms,
            reload_seconds=args.reload_seconds,
            worker_tmp_dir=args.worker_tmp_dir,
        )
    )


if __name__ == "__main__":
    main()
