"""Helpers for the language tests: audio lookups standing in for the audio library, and call walks."""

from __future__ import annotations

import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from flask import Flask

from ivr.flow.queries import heard_prompts
from ivr.services import services
from tests.helpers.audio import ffmpeg
from tests.helpers.reload import settled

AUDIO_BASE = "https://line.example/audio"


def recordings(
    langs: Collection[str], slow: bool = False, missing: Collection[str] = ()
) -> Callable[[str, str, bool], str | None]:
    """Return a lookup `(prompt id, language, slow) -> URL` with a recording of every prompt in `langs`,
    as `availability` takes one (the running line asks the audio library the same question)."""

    def lookup(prompt_id: str, lang: str, want_slow: bool) -> str | None:
        if lang not in langs or prompt_id in missing or (want_slow and not slow):
            return None
        rate = "slow" if want_slow else "normal"
        return f"{AUDIO_BASE}/{lang}/{rate}/{prompt_id}.wav"

    return lookup


def install_audio(
    app: Flask,
    langs: Collection[str],
    slow: bool = False,
    missing: Collection[str] = (),
    seconds: Mapping[str, float] | None = None,
) -> None:
    """Put real audio files in the app's audio library for every prompt a caller hears in `langs`.

    Each is a copy of one real G.711 file made by ffmpeg, installed as a staff recording; `seconds`
    sets the length the manifest records for some prompts, by id (`welcome@slow` for the slow one).
    Returns once the line plays them.
    """
    found = services(app)
    flow = found.live.current().flow
    rates = [False, True] if slow else [False]
    with tempfile.TemporaryDirectory() as folder:
        take = Path(folder) / "take.wav"
        ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=0.4", "-ar", "8000", "-ac", "1",
               "-c:a", "pcm_mulaw", "-y", str(take))  # fmt: skip
        for lang in langs:
            for pid in heard_prompts(flow):
                if pid in missing or not flow.catalogue.has(pid, lang):
                    continue
                for rate in rates:
                    copy = Path(folder) / f"{lang}-{pid}-{rate}.wav"
                    shutil.copyfile(take, copy)
                    length = (seconds or {}).get(pid + ("@slow" if rate else ""), 0.4)
                    found.audio.install(flow, pid, lang, rate, copy, "recording", length, live=True)
    settled(app)


def root(text: str) -> ET.Element:
    """Parse TwiML text."""
    return ET.fromstring(text)


def gather_state(element: ET.Element) -> dict[str, str]:
    """Return the query-string state of a document's <Gather> action."""
    gather = element.find("Gather")
    assert gather is not None, ET.tostring(element, encoding="unicode")
    return {k: v[0] for k, v in parse_qs(urlsplit(gather.get("action", "")).query).items()}


def say_texts(element: ET.Element) -> list[str]:
    """Return the text of every <Say>, prosody included."""
    return [" ".join("".join(s.itertext()).split()) for s in element.iter("Say")]
