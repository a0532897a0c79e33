"""Sound files: measure them and convert them to the telephony format, through the real ffmpeg
that the imageio-ffmpeg wheel ships (no system package)."""

from __future__ import annotations

import json
import re
import struct
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# What every prompt file becomes: G.711 mu-law, 8 kHz, mono, in a WAV container. It is what the
# telephone network carries, so Twilio plays it without transcoding (see README, "Prompt audio").
RATE = 8000
FORMAT = "wav/mulaw/8000/mono"
EXTENSION = ".wav"
# Loudness target (EBU R128 integrated) so that prompts from any source sound alike, with a true
# peak ceiling that keeps mu-law from clipping.
TARGET_LUFS = -18.0
TRUE_PEAK = -2.0
LOUDNESS_RANGE = 11.0
# Silence trimming: anything quieter than this at either end goes, except a short lead-in/out.
SILENCE_DB = -50
KEEP_SILENCE = 0.15
WAV_MULAW = 7


class ConversionError(Exception):
    """ffmpeg could not use a file; `reason` says why in words a member of staff understands."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Measure:
    """What a first pass over a file found: speech length once trimmed, and its loudness."""

    seconds: float
    lufs: float
    true_peak: float
    lra: float
    threshold: float
    offset: float


@dataclass(frozen=True)
class WavInfo:
    """The header of a WAV file and the length of its audio."""

    format_tag: int
    channels: int
    rate: int
    bits: int
    data_bytes: int

    @property
    def seconds(self) -> float:
        """Return the duration the data chunk holds."""
        frame = max(1, self.channels * self.bits // 8)
        return self.data_bytes / frame / self.rate if self.rate else 0.0


@cache
def ffmpeg() -> str:
    """Return the path of the ffmpeg binary in the imageio-ffmpeg wheel."""
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def _trim_filters() -> str:
    """Return the filters that bring a file to mono 16 kHz and trim silence at both ends."""
    trim = (
        f"silenceremove=start_periods=1:start_threshold={SILENCE_DB}dB:start_silence={KEEP_SILENCE}"
        ":detection=peak"
    )
    return f"aformat=channel_layouts=mono,aresample=16000,{trim},areverse,{trim},areverse"


def _run(args: list[str], timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [ffmpeg(), "-nostdin", "-hide_banner", *args],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ConversionError("the file took too long to decode") from exc


def measure(path: Path, max_seconds: float) -> Measure:
    """Decode a file, trim its silence and measure its loudness; raise ConversionError if unusable."""
    # Cut at max_seconds + 1 first so that a huge file never fills memory (areverse buffers it all).
    filters = f"atrim=end={max_seconds + 1},{_trim_filters()},loudnorm=print_format=json"
    done = _run(["-i", str(path), "-map", "0:a:0", "-vn", "-af", filters, "-f", "null", "-"])
    err = done.stderr
    if done.returncode != 0:
        if "matches no streams" in err or "Stream map '0:a:0'" in err:
            raise ConversionError("the file has no sound track")
        raise ConversionError("the file cannot be decoded as audio")
    times = re.findall(r"time=(\d+):(\d+):(\d+(?:\.\d+)?)", err)
    seconds = 0.0
    if times:
        h, m, s = times[-1]
        seconds = int(h) * 3600 + int(m) * 60 + float(s)
    block = re.search(r"\{[^{}]*\"input_i\"[^{}]*\}", err)
    if block is None:
        # loudnorm prints nothing when no sample reached it: the file held only silence.
        raise ConversionError("the file holds no sound (silence only)")
    data = json.loads(block.group(0))
    return Measure(
        seconds=seconds,
        lufs=_number(data["input_i"]),
        true_peak=_number(data["input_tp"]),
        lra=_number(data["input_lra"]),
        threshold=_number(data["input_thresh"]),
        offset=_number(data["target_offset"]),
    )


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return float("-inf")


def to_telephony(source: Path, target: Path, found: Measure) -> None:
    """Write source as a trimmed, loudness-normalised mu-law 8 kHz mono WAV (second loudnorm pass)."""
    norm = (
        f"loudnorm=I={TARGET_LUFS}:TP={TRUE_PEAK}:LRA={LOUDNESS_RANGE}"
        f":measured_I={found.lufs}:measured_TP={found.true_peak}:measured_LRA={found.lra}"
        f":measured_thresh={found.threshold}:offset={found.offset}:linear=true"
    )
    args = ["-i", str(source), "-map", "0:a:0", "-vn", "-af", f"{_trim_filters()},{norm},aresample={RATE}"]
    # bitexact and no metadata: the same input always gives the same bytes, so the same name.
    args += ["-ac", "1", "-ar", str(RATE), "-c:a", "pcm_mulaw", "-map_metadata", "-1"]
    args += ["-fflags", "+bitexact", "-flags:a", "+bitexact", "-f", "wav", "-y", str(target)]
    done = _run(args)
    if done.returncode != 0 or not target.exists():
        raise ConversionError("the file could not be converted: " + _last_line(done.stderr))


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "ffmpeg failed"


def wav_info(path: Path) -> WavInfo:
    """Read a WAV file's format chunk and data length (mu-law included, which `wave` refuses)."""
    data = path.read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ConversionError("not a WAV file")
    pos = 12
    fmt: tuple[int, int, int, int] | None = None
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = pos + 8
        if chunk == b"fmt ":
            tag, channels, rate = struct.unpack("<HHI", data[body : body + 8])
            bits = struct.unpack("<H", data[body + 14 : body + 16])[0]
            fmt = (tag, channels, rate, bits)
        elif chunk == b"data":
            if fmt is None:
                raise ConversionError("WAV data before its format")
            return WavInfo(*fmt, data_bytes=min(size, len(data) - body))
        pos = body + size + (size & 1)
    raise ConversionError("WAV file without audio data")
