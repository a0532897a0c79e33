"""Helpers for the language tests: audio lookups standing in for the audio library, and call walks."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Collection
from urllib.parse import parse_qs, urlsplit

from flask import Flask

AUDIO_BASE = "https://line.example/audio"


def recordings(
    langs: Collection[str], slow: bool = False, missing: Collection[str] = ()
) -> Callable[[str, str, bool], str | None]:
    """Return an AudioLookup that reports a fresh recording of every prompt in `langs`.

    It answers the same question the audio library answers, `(prompt id, language, slow) -> URL`;
    a test that imports real recordings can install the library's lookup in its place.
    """

    def lookup(prompt_id: str, lang: str, want_slow: bool) -> str | None:
        if lang not in langs or prompt_id in missing or (want_slow and not slow):
            return None
        rate = "slow" if want_slow else "normal"
        return f"{AUDIO_BASE}/{lang}/{rate}/{prompt_id}.wav"

    return lookup


def install_audio(app: Flask, lookup: Callable[[str, str, bool], str | None] | None) -> None:
    """Give the running line an audio lookup and rebuild what it offers, as an audio change does."""
    live = app.extensions["ivr"].live
    live.audio = lookup
    live.refresh()


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
