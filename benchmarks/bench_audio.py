"""Benchmark prompt audio: bytes per second of speech served against gTTS's own MP3, and what a
render run costs when nothing changed. Run: PYTHONPATH=. python benchmarks/bench_audio.py"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import responses

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr import create_app  # noqa: E402
from ivr.audio import sound  # noqa: E402
from ivr.cli import cli  # noqa: E402
from ivr.services import services  # noqa: E402
from tests.helpers.audio import decode, ffmpeg, gtts_mp3, mock_google  # noqa: E402

LENGTHS = (1.0, 3.0, 8.0)  # seconds of speech per prompt
REPEAT = 5


def size_per_second(work: Path) -> None:
    """Compare bytes per second of speech: gTTS's MP3 (baseline), what we serve, and alternatives."""
    rows: dict[str, list[float]] = {"gTTS MP3 (24 kHz, 32 kbit/s)": [], "served: mu-law WAV 8 kHz": []}
    alternatives = {
        "alt: PCM 16-bit WAV 8 kHz": ["-c:a", "pcm_s16le", "-ar", "8000", "-ac", "1", "-f", "wav"],
        "alt: MP3 8 kHz 16 kbit/s": [
            "-c:a",
            "libmp3lame",
            "-b:a",
            "16k",
            "-ar",
            "8000",
            "-ac",
            "1",
            "-f",
            "mp3",
        ],
    }
    for name in alternatives:
        rows[name] = []
    for seconds in LENGTHS:
        mp3 = work / f"gtts-{seconds}.mp3"
        mp3.write_bytes(gtts_mp3(seconds))
        spoken = decode(mp3).seconds
        rows["gTTS MP3 (24 kHz, 32 kbit/s)"].append(mp3.stat().st_size / spoken)
        served = work / f"served-{seconds}.wav"
        sound.to_telephony(mp3, served, sound.measure(mp3, 120))
        rows["served: mu-law WAV 8 kHz"].append(served.stat().st_size / decode(served).seconds)
        for name, args in alternatives.items():
            out = work / f"alt-{seconds}-{len(rows[name])}"
            ffmpeg("-i", str(served), *args, "-y", str(out))
            rows[name].append(out.stat().st_size / decode(out).seconds)
    baseline = statistics.mean(rows["gTTS MP3 (24 kHz, 32 kbit/s)"])
    print(f"Size per second of speech ({', '.join(f'{s:g}' for s in LENGTHS)} s prompts; mean):")
    for name, values in rows.items():
        mean = statistics.mean(values)
        print(f"  {name:32} {mean:8.0f} B/s   x{mean / baseline:5.2f} of gTTS's output")


def render_runs(work: Path) -> None:
    """Time a full render of the shipped catalogue (gTTS answered locally) and a run with nothing to do."""
    prompts = work / "prompts"
    shutil.copytree(ROOT / "prompts", prompts)
    config = {"SECRET_KEY": "bench", "PROMPTS_DIR": str(prompts), "AUDIO_DIR": str(work / "audio")}
    app = create_app({**config, "DATABASE_URL": "sqlite://", "TTS_BACKOFF": 0})
    runner = app.test_cli_runner()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        google = mock_google(rsps, gtts_mp3(2.0))
        start = time.perf_counter()
        result = runner.invoke(cli, ["prompts", "render"])
        full = time.perf_counter() - start
        assert result.exit_code == 0, result.output
        count = len(google.asked)
        idle = []
        for _ in range(REPEAT):
            start = time.perf_counter()
            result = runner.invoke(cli, ["prompts", "render"])
            idle.append(time.perf_counter() - start)
            assert "Nothing to render" in result.output, result.output
        assert len(google.asked) == count
    nothing = statistics.median(idle)
    prompts_count = len(services(app).live.current().flow.catalogue.languages["en-GB"].texts)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "IVR_PROMPTS_DIR": str(prompts)}
    env["IVR_AUDIO_DIR"] = str(work / "audio")
    env["IVR_SECRET_KEY"] = "bench"
    env["IVR_DATABASE_URL"] = "sqlite://"
    command = [sys.executable, "-m", "ivr", "prompts", "render"]
    baseline_command = [sys.executable, "-m", "ivr", "check"]
    whole = _median_run(command, env, "Nothing to render")
    check = _median_run(baseline_command, env, "no problems")
    print(
        f"Render runs ({prompts_count} prompts, {count} gTTS requests answered locally; medians of {REPEAT}):"
    )
    rows = [
        (
            "full render, in process (gTTS mocked, real ffmpeg)",
            full,
            f"{full / prompts_count * 1000:.0f} ms a prompt",
        ),
        ("render with nothing changed, in process", nothing, f"1/{full / nothing:,.0f} of a full render"),
        (
            "`ivr prompts render`, nothing changed, whole command",
            whole,
            f"x{whole / check:.2f} of `ivr check`",
        ),
        ("baseline: `ivr check`, whole command", check, "x1.00"),
    ]
    for name, value, note in rows:
        print(f"  {name:54} {value * 1000:9.1f} ms   {note}")


def _median_run(command: list[str], env: dict[str, str], expect: str) -> float:
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        assert done.returncode == 0 and expect in done.stdout, done.stdout + done.stderr
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        size_per_second(work)
        render_runs(work)


if __name__ == "__main__":
    main()
