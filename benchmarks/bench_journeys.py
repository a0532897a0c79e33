"""Webhook latency with call journeys recorded vs not recorded, measured in one run.

    PYTHONPATH=. python benchmarks/bench_journeys.py [--calls 300] [--postgres URL]

Apps serve the same flow: one with journeys off (the baseline), one recording to SQLite (and,
with --postgres or IVR_TEST_POSTGRES_URL, one recording to PostgreSQL), and two whose store
fails: a SQLite file another connection keeps locked, a PostgreSQL port nobody listens on. The
same signed requests of a call are replayed through each app's WSGI stack in interleaved
blocks, so machine noise hits every mode alike. Prints per-request median, p95 and mean
latency, this process's CPU per request (the writer's work included), each mode's ratio to
the baseline, and the median of per-round paired ratios (robust to drifting machine load).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urljoin

from flask import Flask
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr import create_app  # noqa: E402
from ivr.line.simulator import BASE_URL, run  # noqa: E402
from ivr.services import services  # noqa: E402

TOKEN = "bench-token-0123456789abcdef"
KEYS = ["2", "1", "busy", "9", ".", "4", "1"]


LOCKED = "journeys on, SQLite locked"
DOWN = "journeys on, PostgreSQL down"


def closed_port() -> int:
    """Return a loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_app(folder: Path, name: str, database_url: str, journeys: bool) -> Flask:
    """Build an app on a copy of the shipped prompts."""
    prompts = folder / f"prompts-{name}"
    shutil.copytree(ROOT / "prompts", prompts)
    app = create_app(
        {
            "SECRET_KEY": "bench-secret",
            "TWILIO_AUTH_TOKEN": TOKEN,
            "PROMPTS_DIR": str(prompts),
            "AUDIO_DIR": str(folder / "audio"),
            "DATABASE_URL": database_url,
            "JOURNEYS": 1 if journeys else 0,
            "FLOW_RELOAD_SECONDS": 3600,
            "INSTANCE_DIR": str(folder / f"instance-{name}"),
        }
    )
    return app


def script(app: Flask) -> list[tuple[str, dict[str, str]]]:
    """Return the requests of one call (URL, form without CallSid), as the simulator made them."""
    call = run(app, KEYS, token=TOKEN)
    steps = [(turn.request, {k: v for k, v in turn.params.items() if k != "CallSid"}) for turn in call.turns]
    steps.append(("/voice/status", {"CallStatus": "completed", "CallDuration": "61", "To": ""}))
    return steps


def signed_calls(steps: list[tuple[str, dict[str, str]]], count: int) -> list[list[tuple[str, dict, dict]]]:
    """Sign every request of `count` calls in advance, so that timing covers the webhook only."""
    validator = RequestValidator(TOKEN)
    calls = []
    for _ in range(count):
        sid = "CA" + uuid.uuid4().hex
        requests = []
        for path, form in steps:
            url = urljoin(BASE_URL + "/voice", path)
            params = {"CallSid": sid, **form}
            requests.append((url, params, {"X-Twilio-Signature": validator.compute_signature(url, params)}))
        calls.append(requests)
    return calls


def replay(app: Flask, calls: list[list[tuple[str, dict, dict]]], out: list[float]) -> None:
    client = app.test_client()
    for requests in calls:
        for url, params, headers in requests:
            start = time.perf_counter()
            response = client.post(url, data=params, headers=headers)
            out.append(time.perf_counter() - start)
            if response.status_code not in (200, 204):
                raise SystemExit(f"{url} answered {response.status_code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per mode (default 300)")
    parser.add_argument("--block", type=int, default=20, help="calls per interleaved block (default 20)")
    parser.add_argument(
        "--postgres", default=os.environ.get("IVR_TEST_POSTGRES_URL", ""), help="a PostgreSQL URL"
    )
    parser.add_argument(
        "--no-failures", action="store_true", help="skip the locked-SQLite and PostgreSQL-down modes"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        apps = {
            "journeys off": make_app(folder, "off", f"sqlite:///{folder / 'off.db'}", journeys=False),
            "journeys on, SQLite": make_app(folder, "sqlite", f"sqlite:///{folder / 'on.db'}", journeys=True),
        }
        if args.postgres:
            apps["journeys on, PostgreSQL"] = make_app(folder, "pg", args.postgres, journeys=True)
        if not args.no_failures:
            locked_db = folder / "locked.db"
            apps[LOCKED] = make_app(folder, "locked", f"sqlite:///{locked_db}", journeys=True)
            down = f"postgresql+psycopg://ivr@127.0.0.1:{closed_port()}/ivr"
            apps[DOWN] = make_app(folder, "down", down, journeys=True)
        steps = script(apps["journeys off"])
        for app in apps.values():  # warm up: caches, connections, schema
            replay(app, signed_calls(steps, 5), [])
            store = services(app).journeys
            if store is not None:
                store.flush(30)
                store.written = store.dropped = 0
        if not args.no_failures:
            # Another connection holds the SQLite file's write lock for the whole run.
            blocker = sqlite3.connect(locked_db, timeout=0, isolation_level=None)
            blocker.execute("BEGIN EXCLUSIVE")
        timings: dict[str, list[float]] = {name: [] for name in apps}
        cpu: dict[str, float] = {name: 0.0 for name in apps}
        # Per round, each mode's block median over the baseline's: slow drifts in machine load
        # (other processes on a shared machine) cancel out of these paired ratios.
        paired: dict[str, list[float]] = {name: [] for name in apps}
        for start in range(0, args.calls, args.block):
            medians = {}
            for name, app in apps.items():
                calls = signed_calls(steps, min(args.block, args.calls - start))
                block: list[float] = []
                began = time.process_time()
                replay(app, calls, block)
                store = services(app).journeys
                if store is not None:  # the writer's work counts against its own mode
                    store.flush(60)
                cpu[name] += time.process_time() - began
                timings[name] += block
                medians[name] = statistics.median(block)
            for name in apps:
                paired[name].append(medians[name] / medians["journeys off"])
        flushed = {}
        for name, app in apps.items():
            store = services(app).journeys
            if store is not None:
                began = time.perf_counter()
                store.flush(120)
                flushed[name] = (store.stats(), time.perf_counter() - began)

        if not args.no_failures:
            blocker.execute("ROLLBACK")
            blocker.close()

        base = timings["journeys off"]
        print(f"{args.calls} calls x {len(steps)} requests per mode, in interleaved blocks of {args.block}")
        print("latency per webhook request (wall clock), and this process's CPU per request incl. the writer")
        header = f"{'mode':<36} {'median ms':>10} {'p95 ms':>8} {'mean ms':>8} {'CPU ms':>8}"
        print(header + f" {'median/base':>12} {'mean/base':>10} {'CPU/base':>9} {'paired':>7}")
        base_cpu = cpu["journeys off"] / len(base)
        for name, values in timings.items():
            median, mean = statistics.median(values), statistics.fmean(values)
            p95 = statistics.quantiles(values, n=20)[-1]
            per_request = cpu[name] / len(values)
            print(
                f"{name:<36} {median * 1e3:>10.3f} {p95 * 1e3:>8.3f} {mean * 1e3:>8.3f}"
                f" {per_request * 1e3:>8.3f}"
                f" {median / statistics.median(base):>12.3f} {mean / statistics.fmean(base):>10.3f}"
                f" {per_request / base_cpu:>9.3f} {statistics.median(paired[name]):>7.3f}"
            )
        print("paired: the median over rounds of (this mode's median / the baseline's median in that round)")
        for name, (stats, seconds) in flushed.items():
            print(
                f"{name}: {stats['written']} events written, {stats['dropped']} dropped; "
                f"writer caught up {seconds * 1e3:.0f} ms after the last request"
            )
        for app in apps.values():
            services(app).engine.dispose()


if __name__ == "__main__":
    main()
