"""Benchmark calls answered while hostile uploads convert: `python -m benchmarks.bench_uploads`.

gunicorn runs on deploy/gunicorn.conf.py as production runs it: the line (2 workers x 4 threads,
no console) and, apart, the console (1 worker, at nice 10, as deploy/ivr-console.service runs it);
`--together` serves the console from the line's own workers instead, for comparison. Signed
`POST /voice` requests (a new call each) arrive at a steady rate from a few keep-alive clients, and
their latency is measured: alone, then while eight staff-console sessions upload a silence bomb
over and over (5 s of a tone, then two hours of digital silence, as FLAC: a few kB). Two bombs:
`honest` says in its header how long it lasts; `liar` is two FLAC streams end to end, whose header
speaks for the first five seconds only, so that it is decoded up to the cap. Rounds alternate, so
that noise on a shared machine falls on every kind alike. Prints p50/p99/max and the p99 ratio
against the calls alone (target: at most 1.5x).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import requests
from twilio.request_validator import RequestValidator

from ivr.audio import sound

from .calls import TWILIO_PARAMS
from .servers import free_port

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "benchmark-auth-token-0123456789abcdef"
ADMIN, PASSWORD = "bench-admin", "bench-password-0123456789"
PROMPT = "/admin/prompts/welcome/en-GB"
TOKEN_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


class EventLike(Protocol):
    """A threading or multiprocessing Event."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


@dataclass(frozen=True)
class Kind:
    """A kind of round: the calls alone, or with eight uploaders sending a bomb, `pause` s apart each."""

    name: str
    bomb: str | None = None
    pause: float = 0.0


def make_bombs(folder: Path) -> dict[str, Path]:
    """Write the two silence bombs with the real ffmpeg; return them by kind."""
    tone, silence = folder / "tone.flac", folder / "silence.flac"
    codec = ["-ar", "8000", "-ac", "1", "-c:a", "flac", "-frame_size", "16384", "-y"]
    run = [sound.ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "error"]
    subprocess.run(
        [*run, "-f", "lavfi", "-i", "sine=frequency=440:duration=5", *codec, str(tone)], check=True
    )
    subprocess.run(
        [*run, "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "7200", *codec, str(silence)], check=True
    )
    honest = folder / "bomb.flac"
    joined = "[0:a][1:a]concat=n=2:v=0:a=1"
    subprocess.run(
        [*run, "-i", str(tone), "-i", str(silence), "-filter_complex", joined, *codec, str(honest)],
        check=True,
    )
    liar = folder / "liar.flac"
    liar.write_bytes(tone.read_bytes() + silence.read_bytes())
    return {"honest bomb": honest, "liar bomb": liar}


@dataclass
class Line:
    """gunicorn serving the line from a scratch folder, with one admin account; the console apart."""

    folder: Path
    together: bool = False
    port: int = field(default_factory=free_port)
    console_port: int = field(default_factory=free_port)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Return the base URL the line answers at."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def console_url(self) -> str:
        """Return the base URL the console answers at (the line's own, if they run together)."""
        return self.url if self.together else f"http://127.0.0.1:{self.console_port}"

    def env(self) -> dict[str, str]:
        """Return the service's environment: production settings on scratch files, plain http."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_", "PROMETHEUS_"))}
        env.update(
            PYTHONPATH=str(ROOT),
            TWILIO_AUTH_TOKEN=TOKEN,
            IVR_SECRET_KEY="b" * 32,
            IVR_WORKERS="2",
            IVR_COOKIE_SECURE="0",
            IVR_LOG_LEVEL="warning",
            IVR_PROMPTS_DIR=str(self.folder / "prompts"),
            IVR_AUDIO_DIR=str(self.folder / "audio"),
            IVR_INSTANCE_DIR=str(self.folder / "instance"),
            IVR_DATABASE_URL=f"sqlite:///{self.folder / 'line.db'}",
        )
        return env

    def start(self) -> None:
        """Copy the prompts, add the admin account and start gunicorn; wait until it answers."""
        shutil.copytree(ROOT / "prompts", self.folder / "prompts")
        subprocess.run(
            [sys.executable, "-m", "ivr", "users", "add", ADMIN, "--role", "admin", "--password-stdin"],
            input=PASSWORD + "\n", env=self.env(), cwd=self.folder, check=True, capture_output=True,
            text=True,
        )  # fmt: skip
        if self.together:
            self._serve(self.port, {})
        else:
            self._serve(self.port, {"IVR_CONSOLE": "0"})
            self._serve(self.console_port, {"IVR_WORKERS": "1"}, nice=10)
        for url in {self.url, self.console_url}:
            for _ in range(600):
                try:
                    if requests.get(url + "/health", timeout=1).ok:
                        break
                except requests.RequestException:
                    pass
                time.sleep(0.05)
            else:
                raise SystemExit(f"gunicorn did not start at {url}")

    def _serve(self, port: int, settings: dict[str, str], nice: int = 0) -> None:
        self.processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-c",
                    str(ROOT / "deploy" / "gunicorn.conf.py"),
                    "--bind",
                    f"127.0.0.1:{port}",
                    "ivr:create_app()",
                ],
                cwd=self.folder,
                env={**self.env(), **settings},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=(lambda: os.nice(nice)) if nice else None,
            )  # fmt: skip
        )

    def stop(self) -> None:
        """Stop gunicorn gracefully."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def console(self) -> requests.Session:
        """Return a session signed in to the console as the admin (a cookie jar, as a browser keeps)."""
        session = requests.Session()
        token = _token(session.get(self.console_url + "/admin/login", timeout=10).text)
        form = {"name": ADMIN, "password": PASSWORD, "csrf_token": token, "next": ""}
        signed = session.post(self.console_url + "/admin/login", data=form, timeout=10, allow_redirects=False)
        if signed.status_code != 302:
            raise SystemExit(f"could not sign in: {signed.status_code}")
        return session


def _token(page: str) -> str:
    found = TOKEN_FIELD.search(page)
    if found is None:
        raise SystemExit("no CSRF token on the page")
    return found.group(1)


def calls(
    line: Line, stop: threading.Event, rate: float, latencies: list[float], errors: Counter[str]
) -> None:
    """Send signed `POST /voice` requests, a new call each, at `rate` a second; record each latency."""
    url = line.url + "/voice"
    validator = RequestValidator(TOKEN)
    session = requests.Session()
    due = time.monotonic()
    while not stop.is_set():
        params = {**TWILIO_PARAMS, "CallSid": "CA" + uuid.uuid4().hex}
        headers = {"X-Twilio-Signature": validator.compute_signature(url, params)}
        started = time.monotonic()
        try:
            answer = session.post(url, data=params, headers=headers, timeout=30)
            if answer.status_code != 200 or "<Response>" not in answer.text:
                errors[f"/voice answered {answer.status_code}"] += 1
        except requests.RequestException as exc:
            errors[type(exc).__name__] += 1
        latencies.append(time.monotonic() - started)
        due = max(due + 1 / rate, time.monotonic())
        stop.wait(due - time.monotonic())


def uploads(
    url: str, cookies: dict[str, str], bomb: Path, pause: float, stop: EventLike, said: Counter[str]
) -> None:
    """Upload a bomb through the console as the page's recorder does, again `pause` s after each answer."""
    session = requests.Session()
    host = url.split("//", 1)[1].split(":", 1)[0]
    for name, value in cookies.items():  # for this host, so that the server's updates replace them
        session.cookies.set(name, value, domain=host, path="/")
    token = _token(session.get(url + PROMPT, timeout=30).text)
    body = bomb.read_bytes()
    while not stop.is_set():
        try:
            answer = session.post(
                url + PROMPT + "/upload",
                files={"audio": ("take.flac", body, "audio/flac")},
                data={"csrf_token": token},
                headers={"X-Requested-With": "fetch"},
                timeout=120,
            )
            json_answer = answer.headers.get("content-type", "").startswith("application/json")
            message = (
                answer.json().get("message", "")
                if json_answer
                else f"HTTP {answer.status_code} {' '.join(re.sub('<[^>]+>', ' ', answer.text).split())}"
            )
        except requests.RequestException as exc:
            message = type(exc).__name__
        said[_short(message)] += 1
        stop.wait(pause)


def hammer(
    url: str, cookies: dict[str, str], bomb: Path, pause: float, count: int, stop: EventLike, out: Any
) -> None:
    """In a process of its own (no GIL shared with the calls' clients): `count` uploaders until `stop`.

    The uploaders stand in for browsers on other machines: their own work runs at the lowest
    priority, so that what is measured is the server's, not this client's, share of the cores.
    """
    os.nice(19)
    said: Counter[str] = Counter()
    work = (url, cookies, bomb, pause, stop, said)
    threads = [threading.Thread(target=uploads, args=work) for _ in range(count)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put((dict(said), time.monotonic() - started))


def _short(message: str) -> str:
    """Return an upload's answer without the file name, and cut short."""
    return message.removeprefix("take.flac: ").removeprefix("refused: ")[:60]


@dataclass
class Phase:
    """What one kind of round measured, added up over rounds."""

    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    uploads: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    upload_seconds: float = 0.0


def round_of(
    line: Line,
    cookies: dict[str, str],
    bomb: Path | None,
    pause: float,
    args: argparse.Namespace,
    phase: Phase,
) -> None:
    """Run the calls for `args.seconds`, with the uploaders sending a bomb if one is given."""
    context = multiprocessing.get_context("spawn")
    stop, out = context.Event(), context.Queue()
    hostile = None
    if bomb is not None:
        work = (line.console_url, cookies, bomb, pause, args.uploaders, stop, out)
        hostile = context.Process(target=hammer, args=work)
        hostile.start()
        time.sleep(2.0)  # the uploads are under way before the calls are counted
    calling = threading.Event()
    measured: list[float] = []
    callers = [
        threading.Thread(target=calls, args=(line, calling, args.rate, measured, phase.errors))
        for _ in range(args.clients)
    ]
    started = time.monotonic()
    for thread in callers:
        thread.start()
    time.sleep(args.seconds)
    calling.set()
    for thread in callers:
        thread.join()
    phase.seconds += time.monotonic() - started
    phase.latencies.extend(measured)
    if hostile is not None:
        stop.set()
        said, seconds = out.get(timeout=180)
        phase.uploads.update(said)
        phase.upload_seconds += seconds
        hostile.join()


def percentile(values: list[float], share: float) -> float:
    """Return the value below which `share` of the values lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def main() -> None:
    """Measure and print the latency of calls alone and under hostile uploads."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each kind (alternating)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of a round")
    parser.add_argument("--clients", type=int, default=4, help="keep-alive clients sending calls")
    parser.add_argument("--rate", type=float, default=10.0, help="calls a second from each client")
    parser.add_argument("--uploaders", type=int, default=8, help="console sessions uploading at once")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds an uploader waits between uploads")
    parser.add_argument(
        "--together", action="store_true", help="serve the console from the line's workers, not apart"
    )
    args = parser.parse_args()
    kinds = [
        Kind("calls alone"),
        Kind(f"honest bomb, {args.pause:g} s apart", "honest bomb", args.pause),
        Kind(f"liar bomb, {args.pause:g} s apart", "liar bomb", args.pause),
        Kind("honest bomb, flood", "honest bomb"),
        Kind("liar bomb, flood", "liar bomb"),
    ]
    with tempfile.TemporaryDirectory(prefix="bench-uploads-") as tmp:
        folder = Path(tmp)
        bombs = make_bombs(folder)
        sizes = {kind: bomb.stat().st_size for kind, bomb in bombs.items()}
        line = Line(folder / "line", together=args.together)
        line.folder.mkdir()
        line.start()
        try:
            cookies = {c.name: c.value or "" for c in line.console().cookies}
            phases = {kind: Phase() for kind in kinds}
            warm_up = argparse.Namespace(**{**vars(args), "seconds": 2.0})
            round_of(line, cookies, None, 0.0, warm_up, Phase())
            for _ in range(args.rounds):
                for kind in kinds:
                    bomb = bombs[kind.bomb] if kind.bomb else None
                    round_of(line, cookies, bomb, kind.pause, args, phases[kind])
        finally:
            line.stop()
    report(phases, sizes, args)


def report(phases: dict[Kind, Phase], sizes: dict[str, int], args: argparse.Namespace) -> None:
    """Print each kind's latencies, its p99 against the calls alone, and what the uploads were told."""
    layout = "the console in the line's workers" if args.together else "the console apart (1 worker, nice 10)"
    print(
        f"gunicorn deploy/gunicorn.conf.py (2 workers x 4 threads), {layout};"
        f" {args.clients} clients x {args.rate:g} calls/s; {args.uploaders} uploaders;"
        f" {args.rounds} rounds x {args.seconds:g} s of each kind"
    )
    for name, size in sizes.items():
        print(f"{name}: {size / 1024:.0f} kB of FLAC, 2 h 00 min 05 s of sound")
    kinds = list(phases)
    base = percentile(phases[kinds[0]].latencies, 0.99)
    print(
        f"\n{'POST /voice':<26}{'calls':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'p99 ratio':>11}"
        f"{'uploads/s':>11}"
    )
    for kind in kinds:
        phase = phases[kind]
        lat = phase.latencies
        p99 = percentile(lat, 0.99)
        rate = sum(phase.uploads.values()) / phase.upload_seconds if phase.upload_seconds else 0.0
        print(
            f"{kind.name:<26}{len(lat):>7}{statistics.median(lat) * 1000:>9.1f}{p99 * 1000:>9.1f}"
            f"{max(lat) * 1000:>9.1f}{p99 / base:>10.2f}x{rate:>11.1f}"
        )
    for kind in kinds:
        phase = phases[kind]
        if phase.errors:
            print(f"{kind.name}: failed calls: {dict(phase.errors)}")
        for message, count in phase.uploads.most_common():
            print(f"{kind.name}: {count} upload(s) answered: {message}")


if __name__ == "__main__":
    main()
