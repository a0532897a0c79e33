"""Real small audio files made with the real ffmpeg, and gTTS's HTTP answered as Google answers it."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import responses

from ivr.audio import recognise, sound
from ivr.audio.library import AudioLibrary, PromptAudio
from ivr.audio.publishing import pending, publish
from ivr.checks import load_valid
from ivr.flow import Flow
from ivr.flow.queries import speech_seconds
from tests.helpers.parts import missing
from tests.helpers.twilio import ROOT

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


# A studio evens a voice out: speech so compressed normalises to the line's loudness within its peak
# ceiling however short it is (raw speech, loud only in bursts, can end up quieter than that).
STUDIO = "acompressor=threshold=0.05:ratio=8:attack=2:release=40:makeup=4"


def speak(path: Path, text: str, seconds: float, lead: float = 0.8, tail: float = 0.8) -> Path:
    """Write real speech of a text (espeak-ng's British voice) lasting about `seconds`, evened out as a
    studio does, with silence before and after, in the format its suffix names: English recordings
    must be heard to say their words before they are published (ivr.audio.recognise)."""
    if shutil.which("espeak-ng") is None:
        missing("espeak-ng is not installed (apt-get install espeak-ng): no real speech to record")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        raw = Path(folder) / "espeak.wav"
        speed = 160  # words a minute, changed until the speech lasts about as long as asked
        for _ in range(3):
            subprocess.run(
                ["espeak-ng", "-v", "en-gb", "-s", str(speed), "-w", str(raw), text],
                check=True,
                capture_output=True,
            )
            with wave.open(str(raw)) as made:
                took = made.getnframes() / made.getframerate()
            if abs(took - seconds) < 0.1:
                break
            speed = max(80, min(450, round(speed * took / seconds)))
        filters = f"{STUDIO},adelay={int(lead * 1000)}:all=1,apad=pad_dur={tail}"
        ffmpeg("-i", str(raw), "-af", filters, *CODECS[path.suffix], "-y", str(path))
    return path


# A recording lasts about this share of the estimate for its text: well inside the length rule
# (0.5 to 2 times the estimate, see ivr.audio.publishing).
PACE = 0.9
# The English welcome comes before the 999 advice: a recording of it longer than about 2.6 s would end
# the advice after the 15 s the greeting allows, so a test's welcome lasts at most this, converted.
WELCOME_SECONDS = 2.3


@cache
def shipped() -> Flow:
    """Return the shipped flow and catalogues (a test's copy says the same until the test edits it)."""
    return load_valid(ROOT / "prompts")


def plausible_seconds(
    prompt_id: str, lang: str = "en-GB", extra: float = 0.0, flow: Flow | None = None
) -> float:
    """Return how long a take (make_voice's `seconds`) of a prompt must be to pass the length rule:
    converted, with 0.15 s of silence kept at each end, it lasts about PACE times its text's estimate
    (speech, with its own pauses, about that less the silence)."""
    flow = flow or shipped()
    estimate = speech_seconds(flow.catalogue.text(prompt_id, lang), flow.catalogue.languages.get(lang))
    converted = PACE * estimate
    if prompt_id == "welcome" and lang == flow.default_language:
        converted = min(converted, WELCOME_SECONDS)
    return round(max(converted - 2 * sound.KEEP_SILENCE, 0.4) + extra, 2)


def voice_for(
    path: Path, prompt_id: str, lang: str = "en-GB", extra: float = 0.0, flow: Flow | None = None, **kwargs
) -> Path:
    """Write a take of a prompt, as long as a recording of its text plausibly is: its words spoken where
    the line can hear them (English), else a voice-like sound. `extra` seconds more (or fewer) make a
    second take that differs from the first."""
    seconds = plausible_seconds(prompt_id, lang, extra, flow)
    if recognise.supported(lang):
        return speak(path, (flow or shipped()).catalogue.text(prompt_id, lang), seconds, **kwargs)
    return make_voice(path, seconds=seconds, **kwargs)


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
    paced: bool = True  # speech as long as each text takes; False: always `mp3` (to compare bytes)

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
        if not words or not self.paced:
            return self.mp3
        seconds = max(0.5, round(words / 2.5 * 4) / 4 - 0.3)  # gTTS's own silence makes up the rest
        key = (seconds, slow)
        if key not in PACED:
            PACED[key] = gtts_mp3(seconds, slow)
        return PACED[key]

    def texts(self) -> list[str]:
        """Return the texts asked for, in order."""
        return [text for text, _, _ in self.asked]


def mock_google(rsps: responses.RequestsMock, mp3: bytes, paced: bool = True) -> FakeGoogle:
    """Answer every gTTS request in a responses mock with a real MP3 (of the text's length, if paced)."""
    fake = FakeGoogle(mp3, paced=paced)
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
    prompts it lists. A file not (yet) listed may exist only whole; `strict`: none may exist.
    Each prompt has a live version or a candidate waiting to be published (a run that died before
    publishing leaves candidates), and lists it."""
    data = json.loads((root / "manifest.json").read_text())
    listed = set()
    for entry in data["prompts"].values():
        named = [n for n in (entry.get("current"), entry.get("candidate")) if n is not None]
        assert named and set(named) <= {v["version"] for v in entry["versions"]}, entry
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


def import_live(
    lib: AudioLibrary, flow: Flow, prompt_id: str, take: Path, lang: str = "en-GB", slow: bool = False
) -> PromptAudio:
    """Import a take of a prompt and publish it at once, as an admin does (it must pass the rules)."""
    lib.import_recording(flow, prompt_id, lang, take, take.name, slow=slow)
    return publish(lib, flow, prompt_id, lang, slow, by="ada", role="admin")


def publish_waiting(lib: AudioLibrary, flow: Flow) -> list[str]:
    """Publish every candidate waiting, as an admin does after `ivr prompts pending` (a run that died
    before publishing leaves its renders as candidates); fail if one breaks a rule. Return their labels."""
    published = []
    for item in pending(lib, flow):
        assert not item.findings, (item, [str(f) for f in item.findings])
        publish(lib, flow, item.prompt_id, item.lang, item.slow, by="ada", role="admin")
        published.append(f"{item.lang}/{item.prompt_id}" + (" (slow)" if item.slow else ""))
    return published


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
