"""Real small audio files made with the real ffmpeg, and gTTS's HTTP answered as Google answers it."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import responses

from ivr.audio import sound

# A voice-like sound: a 150 Hz fundamental with harmonics, its level swelling three times a
# second like syllables. Real speech it is not, but ffmpeg decodes, trims and measures it alike.
VOICE = (
    "{amp}*(0.6*sin(2*PI*150*t)+0.3*sin(2*PI*300*t)+0.15*sin(2*PI*450*t)+0.08*sin(2*PI*1200*t))"
    "*(0.55+0.45*sin(2*PI*3*t))"
)
CODECS = {
    ".wav": ["-c:a", "pcm_s16le", "-ar", "44100", "-ac", "2"],
    ".mp3": ["-c:a", "libmp3lame", "-b:a", "64k", "-ar", "44100"],
    ".m4a": ["-c:a", "aac", "-b:a", "64k", "-ar", "44100"],
    ".ogg": ["-c:a", "libvorbis", "-q:a", "3", "-ar", "44100"],
    ".webm": ["-c:a", "libopus", "-b:a", "32k", "-ar", "48000"],
}
# Short prompts, one request each: enough to see a run's behaviour without rendering all of them.
SOME = ("welcome", "main_menu_intro", "opt_danger", "opt_get_help", "opt_report", "opt_learn", "goodbye")
GTTS_URL = re.compile(r"https://translate\.google\.[a-z.]+/_/TranslateWebserverUi/data/batchexecute")


def ffmpeg(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the real ffmpeg (imageio-ffmpeg's), failing loudly."""
    done = subprocess.run(
        [sound.ffmpeg(), "-nostdin", "-hide_banner", *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done


def make_voice(
    path: Path, seconds: float = 2.0, lead: float = 0.8, tail: float = 0.8, amp: float = 0.5
) -> Path:
    """Write a voice-like sound with silence before and after, in the format its suffix names."""
    path.parent.mkdir(parents=True, exist_ok=True)
    source = f"aevalsrc='{VOICE.format(amp=amp)}':s=44100:d={seconds}"
    filters = f"adelay={int(lead * 1000)}:all=1,apad=pad_dur={tail}"
    ffmpeg("-f", "lavfi", "-i", source, "-af", filters, *CODECS[path.suffix], "-y", str(path))
    return path


def make_silence(path: Path, seconds: float = 2.0) -> Path:
    """Write a file that holds nothing but silence."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "anullsrc=r=44100:cl=mono",
        "-t",
        str(seconds),
        *CODECS[path.suffix],
        "-y",
        str(path),
    )
    return path


def gtts_mp3(seconds: float = 1.5, slow: bool = False) -> bytes:
    """Return an MP3 like gTTS's: MPEG-2 layer III, 24 kHz, mono, 32 kbit/s, with silence around it."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "gtts.mp3"
        length = seconds * (1.6 if slow else 1.0)
        source = f"aevalsrc='{VOICE.format(amp=0.4)}':s=24000:d={length}"
        ffmpeg(
            "-f", "lavfi", "-i", source, "-af", "adelay=150,apad=pad_dur=0.3",
            "-ac", "1", "-ar", "24000", "-c:a", "libmp3lame", "-b:a", "32k", "-y", str(out),
        )  # fmt: skip
        return out.read_bytes()


def gtts_body(mp3: bytes) -> str:
    """Wrap audio as Google's batchexecute answer, the format gTTS's stream() parses."""
    payload = json.dumps([base64.b64encode(mp3).decode("ascii")])
    envelope = [
        ["wrb.fr", "jQ1olc", payload, None, None, None, "generic"],
        ["di", 42],
        ["af.httprm", 41, "0", 1],
    ]
    line = json.dumps(envelope, separators=(",", ":"))
    return f')]}}\'\n\n{len(line)}\n{line}\n25\n[["e",4,null,null,{len(line)}]]\n'


# Speech made for a length (and speed) once per test run: rendering 66 prompts asks for ~30 lengths.
PACED: dict[tuple[float, bool], bytes] = {}


@dataclass
class FakeGoogle:
    """Answers gTTS's POSTs; records what each asked for (text, lang, speed)."""

    mp3: bytes
    asked: list[tuple[str, str, bool]] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    fail: list[object] = field(default_factory=list)  # first answers: a status, an exception, None (fine)

    def __call__(self, request):  # type: ignore[no-untyped-def]
        """Answer one request (a responses callback)."""
        form = parse_qs(request.body if isinstance(request.body, str) else request.body.decode())
        rpc = json.loads(form["f.req"][0])
        text, lang, speed, _ = json.loads(rpc[0][0][1])
        self.hosts.append(request.url.split("/")[2])
        failure = self.fail.pop(0) if self.fail else None
        if failure is not None:
            if isinstance(failure, BaseException):
                raise failure
            return (int(failure), {}, "error")  # type: ignore[call-overload]
        self.asked.append((text, lang, bool(speed)))
        return (
            200,
            {"Content-Type": "application/json; charset=utf-8"},
            gtts_body(self.speech(text, bool(speed))),
        )

    def speech(self, text: str, slow: bool) -> bytes:
        """Return speech as long as the text takes at a calm pace, as Google's is (made once a length)."""
        words = len(re.findall(r"\w+", text))
        if not words:
            return self.mp3
        seconds = max(0.5, round(words / 2.5 * 4) / 4 - 0.3)  # gTTS's own silence makes up the rest
        key = (seconds, slow)
        if key not in PACED:
            PACED[key] = gtts_mp3(seconds, slow)
        return PACED[key]

    def texts(self) -> list[str]:
        """Return the texts asked for, in order."""
        return [text for text, _, _ in self.asked]


def mock_google(rsps: responses.RequestsMock, mp3: bytes) -> FakeGoogle:
    """Answer every gTTS request in a responses mock with a real MP3."""
    fake = FakeGoogle(mp3)
    rsps.add_callback(responses.POST, GTTS_URL, callback=fake)
    return fake


@dataclass(frozen=True)
class Decoded:
    """What the real ffmpeg finds in a file: its stream and its integrated loudness."""

    codec: str
    rate: int
    channels: int
    seconds: float
    lufs: float


def decode(path: Path) -> Decoded:
    """Decode a file fully with ffmpeg: codec, rate, channels, length and EBU R128 loudness."""
    done = subprocess.run(
        [sound.ffmpeg(), "-nostdin", "-hide_banner", "-i", str(path), "-af", "ebur128", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    stream = re.search(r"Audio: (\w+).*?, (\d+) Hz, (mono|stereo)", done.stderr)
    assert stream, done.stderr
    times = re.findall(r"time=(\d+):(\d+):(\d+\.\d+)", done.stderr)
    h, m, s = times[-1]
    summary = done.stderr[done.stderr.rfind("Summary:") :]
    lufs = re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary)
    assert lufs, done.stderr
    return Decoded(
        codec=stream.group(1),
        rate=int(stream.group(2)),
        channels=1 if stream.group(3) == "mono" else 2,
        seconds=int(h) * 3600 + int(m) * 60 + float(s),
        lufs=float(lufs.group(1)),
    )


def check_consistent(root: Path, strict: bool = False) -> int:
    """Check that the manifest lists only whole files, each matching its hash, and return how many
    prompts it lists. A file not (yet) listed may exist only whole; `strict`: none may exist."""
    data = json.loads((root / "manifest.json").read_text())
    listed = set()
    for entry in data["prompts"].values():
        assert [v for v in entry["versions"] if v["version"] == entry["current"]]
        for version in entry["versions"]:
            path = root / version["file"]
            listed.add(version["file"])
            assert_whole(path)
            assert decode(path).seconds == pytest.approx(version["duration"], abs=0.05)
    for path in root.glob("*/*"):
        name = str(path.relative_to(root))
        if name not in listed and not name.startswith("."):
            assert not strict, f"{name} is not listed"
            assert_whole(path)
    # A manifest write killed half-way leaves only its scratch file, which the next write removes.
    assert not strict or not list(root.glob("*.tmp"))
    return len(data["prompts"])


def assert_whole(path: Path) -> None:
    """A library file's name holds its content's hash; a half-written file would not match."""
    assert path.name.split(".")[1] == hashlib.sha256(path.read_bytes()).hexdigest()[:16], path


def import_in_shell(app, take: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `python -m ivr prompts import TAKE` in a separate process, as staff do from a shell."""
    import os
    import sys

    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "IVR_PROMPTS_DIR": app.config["PROMPTS_DIR"],
        "IVR_AUDIO_DIR": app.config["AUDIO_DIR"],
        "IVR_SECRET_KEY": "shell",
        "IVR_DATABASE_URL": "sqlite://",
    }
    return subprocess.run(
        [sys.executable, "-m", "ivr", "prompts", "import", str(take)],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
