"""Sound files: measure them and convert them to the telephony format, through the real ffmpeg
that the imageio-ffmpeg wheel ships (no system package).

No pass decodes more than a prompt may last (and a margin), whatever the file says about itself;
every pass runs niced and limited, and a conversion holds a slot of a small pool (pool.py) for all
of its passes: an upload cannot starve the calls."""

from __future__ import annotations

import json
import math
import re
import struct
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from . import pool
from .pool import ConversionError as ConversionError  # raised by the runs too; known by this name

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
# Files are decoded at this rate, mono, for trimming and measuring; samples are counted at it.
WORK_RATE = 16000
# Silence a file may hold around its longest allowed sound: a file that lasts longer is refused.
MARGIN_SECONDS = 30.0


@dataclass(frozen=True)
class Measure:
    """What a first pass over a file found: speech length once trimmed, and its loudness."""

    seconds: float
    lufs: float
    true_peak: float
    lra: float
    threshold: float
    offset: float
    cap: float  # the most that any pass over the file decodes, in seconds


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


def decode_limit(max_seconds: float) -> float:
    """Return how long a file may last: `max_seconds` of sound, and a margin of silence around it."""
    return max_seconds + MARGIN_SECONDS


def pass_seconds(cap: float) -> float:
    """Return the wall-clock time an ffmpeg pass over at most `cap` seconds of audio may take."""
    # About 2 s for 150 s of audio on an idle core; the rest is room for a busy, niced machine.
    return max(10.0, cap // 5)


def _too_long(max_seconds: float, seconds: float | None = None) -> str:
    """Return why a file that lasts too long (`seconds`, or more than the limit) is refused."""
    lasts = f"lasts {_length(seconds)}, more than" if seconds is not None else "lasts more than"
    return (
        f"the file {lasts} the {decode_limit(max_seconds):.0f} seconds a prompt's file may last"
        f" ({max_seconds:.0f} seconds of sound and a little silence around it)"
    )


def _length(seconds: float) -> str:
    """Return a length in words, rounded up: 150.1 seconds, 20 minutes, 2 h 00 min."""
    if seconds < 600:
        return f"{math.ceil(seconds * 10) / 10:.1f} seconds"
    if seconds < 3600:
        return f"{math.ceil(seconds / 60)} minutes"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def _input(path: Path, cap: float) -> list[str]:
    """Return ffmpeg's input options: one decoding thread, and no more than `cap` seconds read."""
    return ["-threads", "1", "-filter_threads", "1", "-t", f"{cap:.3f}", "-i", str(path)]


def _decode_filters(cap: float) -> str:
    """Return the filters that bring a file to mono 16 kHz and stop after `cap` seconds of samples.

    Counted in samples, after timestamps are made from the count: a file whose timestamps restart
    (concatenated or chained streams) cannot run past the cap that `-t` sets on its timestamps.
    """
    end = int(cap * WORK_RATE)
    return f"aformat=channel_layouts=mono,aresample={WORK_RATE},asetpts=N/SR/TB,atrim=end_sample={end}"


def _count(name: str) -> str:
    """Return a filter that counts the samples reaching it and prints the count, under a name, at the end."""
    return f"astats@{name}=measure_perchannel=none:measure_overall=Number_of_samples"


def _trim_filters() -> str:
    """Return the filters that trim silence at both ends (areverse holds at most the decoded cap)."""
    trim = (
        f"silenceremove=start_periods=1:start_threshold={SILENCE_DB}dB:start_silence={KEEP_SILENCE}"
        ":detection=peak"
    )
    return f"{trim},areverse,{trim},areverse"


def _run(args: list[str], seconds: float) -> subprocess.CompletedProcess[str]:
    """Run ffmpeg niced and limited (pool.run); ConversionError if it ran out of time or memory."""
    return pool.run([ffmpeg(), "-nostdin", "-hide_banner", "-nostats", *args], seconds)


def probe(path: Path, max_seconds: float) -> float:
    """Return how long a file lasts, counted up to the cap; ConversionError if too long or not audio.

    A cheap pass (decoding and counting, nothing more) before the costly one: a file whose header
    says it lasts hours, or that goes on past the limit whatever its header says, is refused here.
    """
    limit = decode_limit(max_seconds)
    cap = limit + 1  # one second more than allowed, to tell a file that goes on from one that ends
    filters = f"{_decode_filters(cap)},{_count('whole')}"
    done = _run(
        [*_input(path, cap), "-map", "0:a:0", "-vn", "-af", filters, "-f", "null", "-"], pass_seconds(cap)
    )
    header = re.search(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", done.stderr)
    if header is not None:
        says = int(header.group(1)) * 3600 + int(header.group(2)) * 60 + float(header.group(3))
        if says > limit:
            raise ConversionError(_too_long(max_seconds, says))
    if done.returncode != 0:
        raise _unusable(done.stderr)
    samples = _counts(done.stderr).get("whole", 0)
    if samples > limit * WORK_RATE:
        raise ConversionError(_too_long(max_seconds))
    return samples / WORK_RATE


def _unusable(err: str) -> ConversionError:
    """Return why ffmpeg could not decode a file, from what it printed."""
    if "matches no streams" in err or "Stream map '0:a:0'" in err:
        return ConversionError("the file has no sound track")
    return ConversionError("the file cannot be decoded as audio")


def _counts(err: str) -> dict[str, int]:
    """Return the sample counts the named counting filters printed."""
    found = re.findall(r"\[astats@(\w+) @ [^\]]*\] Number of samples: (\d+)", err)
    return {name: int(count) for name, count in found}


@contextmanager
def converting() -> Iterator[None]:
    """Hold one of the process's conversion slots around a file's passes; ConversionError if busy."""
    with pool.slot():
        yield


def measure(path: Path, max_seconds: float) -> Measure:
    """Decode a file, trim its silence and measure its loudness; raise ConversionError if unusable.

    At most `max_seconds` and a margin are decoded; a file that goes on longer is refused.
    """
    limit = decode_limit(max_seconds)
    cap = limit + 1  # one second more than allowed, to tell a file that goes on from one that ends
    filters = f"{_decode_filters(cap)},{_count('whole')},{_trim_filters()},{_count('sound')}"
    filters += ",loudnorm=print_format=json"
    done = _run(
        [*_input(path, cap), "-map", "0:a:0", "-vn", "-af", filters, "-f", "null", "-"], pass_seconds(cap)
    )
    err = done.stderr
    if done.returncode != 0:
        raise _unusable(err)
    counts = _counts(err)
    if counts.get("whole", 0) > limit * WORK_RATE:  # probe said so already, unless called alone
        raise ConversionError(_too_long(max_seconds))
    seconds = counts.get("sound", 0) / WORK_RATE
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
        cap=cap,
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
    cap = found.cap  # the very samples that were measured, and never more
    filters = f"{_decode_filters(cap)},{_trim_filters()},{norm},aresample={RATE}"
    args = [*_input(source, cap), "-map", "0:a:0", "-vn", "-af", filters]
    # bitexact and no metadata: the same input always gives the same bytes, so the same name.
    args += ["-ac", "1", "-ar", str(RATE), "-c:a", "pcm_mulaw", "-map_metadata", "-1"]
    args += ["-fflags", "+bitexact", "-flags:a", "+bitexact", "-f", "wav", "-y", str(target)]
    done = _run(args, pass_seconds(cap))
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
